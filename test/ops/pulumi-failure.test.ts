// Why a stack could not be read, word for word, from what the Pulumi engine
// this project builds (v3.248.0) and scripts/pulumi.sh print. Each stderr
// below was printed by them; test/ops/stack-errors.test.ts runs the real
// thing for the causes an operator meets first.
import { describe, expect, it } from "vitest";
import { explainPulumiFailure } from "../../scripts/ops/pulumi-failure.js";

const prod = { stack: "prod" };
const explain = (code: number | null, stderr: string, setting: Parameters<typeof explainPulumiFailure>[1] = prod) =>
  explainPulumiFailure({ code, stderr }, setting);

const NO_PASSPHRASE =
  "no passphrase for stack prod: its secrets are encrypted with the passphrase given to npm run stack:init. " +
  "Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, a file that holds it) in this shell or in .env " +
  "in the folder you run npm from";

describe("a stack that cannot be read", () => {
  it("names the missing passphrase, not the wrapper's last hint", () => {
    const wrapper =
      "Set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE: it encrypts this stack's secrets.\n" +
      "Keep it in a password manager; without it the stack's secrets cannot be read.\n";
    expect(explain(1, wrapper)).toBe(NO_PASSPHRASE);
  });

  it("names the missing passphrase when the CLI itself refuses", () => {
    expect(
      explain(
        1,
        'error: constructing secrets manager of type "passphrase": constructing secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables\n',
      ),
    ).toBe(NO_PASSPHRASE);
    expect(
      explain(
        1,
        "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables\n",
      ),
    ).toBe(NO_PASSPHRASE);
  });

  it("says which passphrase is wrong: the variable, which the CLI takes first", () => {
    expect(explain(1, "error: incorrect passphrase\n", { stack: "prod", passphrase: "set" })).toBe(
      "wrong passphrase for stack prod: PULUMI_CONFIG_PASSPHRASE is not the one its secrets were encrypted with. " +
        "Set the passphrase given to npm run stack:init in this shell or in .env in the folder you run npm from",
    );
  });

  it("says which passphrase is wrong: the file's, when only the file is set", () => {
    const stderr =
      "error: failed to decrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase " +
      "or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase\n";
    expect(explain(1, stderr, { stack: "staging", passphraseFile: "/etc/pp" })).toBe(
      "wrong passphrase for stack staging: the passphrase in PULUMI_CONFIG_PASSPHRASE_FILE (/etc/pp) is not the one " +
        "its secrets were encrypted with. Set the passphrase given to npm run stack:init in this shell or in .env in " +
        "the folder you run npm from",
    );
  });

  it("names a passphrase file that cannot be read, and why", () => {
    expect(
      explain(1, "error: unable to read PULUMI_CONFIG_PASSPHRASE_FILE: open /run/pp: no such file or directory\n"),
    ).toBe(
      "PULUMI_CONFIG_PASSPHRASE_FILE cannot be read (open /run/pp: no such file or directory): point it at the file " +
        "that holds stack prod's passphrase, or set PULUMI_CONFIG_PASSPHRASE instead",
    );
  });

  it("names a stack that does not exist, where it looked, and how to list or create one", () => {
    expect(explain(6, "error: no stack named 'prod' found\n")).toBe(
      "no stack prod in the project's .pulumi-state/. npm run pulumi -- stack ls lists the stacks there: name " +
        "another with --stack NAME (or OPS_STACK), point PULUMI_BACKEND_URL at the state that holds it, or create it " +
        "(npm run stack:init makes prod; then set its config and npm run up)",
    );
    expect(
      explain(6, "error: no stack named 'edge' found\n", { stack: "edge", backend: "s3://state?region=ewr" }),
    ).toMatch(/^no stack edge in PULUMI_BACKEND_URL=s3:\/\/state\?region=ewr\. /);
  });

  it("names a state backend that cannot be opened", () => {
    expect(
      explain(
        1,
        "error: unable to open bucket file:///srv/state?no_tmp_dir=true: stat /srv/state: no such file or directory\n",
        { stack: "prod", backend: "file:///srv/state" },
      ),
    ).toBe(
      "the state backend file:///srv/state cannot be opened (stat /srv/state: no such file or directory): point " +
        "PULUMI_BACKEND_URL at the folder or bucket that holds stack prod, or unset it for the project's .pulumi-state/",
    );
  });

  it("passes on why the engine cannot be built", () => {
    expect(
      explain(
        127,
        "Building the Pulumi engine needs Go 1.25 or newer (https://go.dev/dl/, or your package manager).\n",
      ),
    ).toBe(
      "cannot run Pulumi for stack prod: Building the Pulumi engine needs Go 1.25 or newer (https://go.dev/dl/, or your package manager).",
    );
  });

  it("gives every error line of a failure it does not know, with the exit code", () => {
    expect(explain(255, "warning: something minor\nerror: the first\n  detail\nerror: the second\nKeep calm.\n")).toBe(
      "pulumi failed on stack prod (exit code 255): error: the first; error: the second",
    );
    expect(explain(null, "")).toBe("pulumi failed on stack prod (killed by a signal): nothing on standard error");
    expect(explain(2, "just words\nlast words\n")).toBe("pulumi failed on stack prod (exit code 2): last words");
  });
});
