// `npm run ops -- status` against a real Pulumi state backend (file:// in a
// scratch folder, the engine scripts/setup/build-engine.sh builds): each way
// of failing to read the stack says its cause and its fix, not Pulumi's last
// line. The words are pinned in test/ops/pulumi-failure.test.ts; here the
// whole path runs: the ops entry, scripts/pulumi.sh, the engine.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const ROOT = join(import.meta.dirname, "../..");
const scratch = scratchDir("ops-stack-errors");
const project = join(scratch.path, "project");
const PASSPHRASE = "ops-stack-errors-passphrase";

/** This shell's environment without anything that would pick a stack, a passphrase or a server. */
function baseEnv(): NodeJS.ProcessEnv & { PULUMI_BACKEND_URL: string } {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PULUMI_|OPS_)/.test(key)),
  ) as NodeJS.ProcessEnv;
  return {
    ...env,
    PULUMI_BACKEND_URL: `file://${join(scratch.path, "state")}`,
    PULUMI_HOME: join(scratch.path, "home"),
    NO_COLOR: "1",
  };
}

function pulumi(args: string[], env: NodeJS.ProcessEnv) {
  const run = spawnSync("bash", [join(ROOT, "scripts/pulumi.sh"), ...args, "--cwd", project], {
    env,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (run.status !== 0) throw new Error(`pulumi ${args.join(" ")}: ${run.stdout}${run.stderr}`);
}

/** The ops entry as `npm run ops -- status --stack NAME` runs it, from a folder with no .env. */
function opsStatus(stack: string, env: NodeJS.ProcessEnv): { code: number | null; stderr: string } {
  const run = spawnSync(
    join(ROOT, "node_modules/.bin/tsx"),
    [join(ROOT, "scripts/ops.ts"), "status", "--stack", stack],
    {
      cwd: scratch.path,
      env,
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  return { code: run.status, stderr: run.stderr.trim() };
}

beforeAll(() => {
  mkdirSync(join(scratch.path, "state"));
  mkdirSync(project);
  // A program of this project's name whose outputs look like the real
  // one's: a server address and a secret (as the backup keys are).
  writeFileSync(join(project, "Pulumi.yaml"), "name: conversational-platform\nruntime: nodejs\nmain: index.cjs\n");
  writeFileSync(join(project, "package.json"), '{ "name": "ops-stack-errors", "version": "1.0.0" }\n');
  symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
  writeFileSync(
    join(project, "index.cjs"),
    'const pulumi = require("@pulumi/pulumi");\n' +
      'exports.ipv4 = "192.0.2.10";\n' +
      'exports.backupSecretKey = pulumi.secret("not-a-real-key");\n',
  );
  const env = { ...baseEnv(), PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
  pulumi(["stack", "init", "deployed", "--secrets-provider", "passphrase"], env);
  pulumi(["up", "--yes", "--skip-preview", "--stack", "deployed"], env);
  pulumi(["stack", "init", "empty", "--secrets-provider", "passphrase"], env);
}, 360_000);

afterAll(() => scratch.remove());

describe("npm run ops -- status, when the stack cannot be read", () => {
  it("without a passphrase: names PULUMI_CONFIG_PASSPHRASE and where to set it", () => {
    const result = opsStatus("deployed", baseEnv());
    expect(result).toEqual({
      code: 1,
      stderr:
        "ops: no passphrase for stack deployed: its secrets are encrypted with the passphrase given to npm run " +
        "stack:init. Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, a file that holds it) in this " +
        "shell or in .env in the folder you run npm from",
    });
  });

  it("with the wrong passphrase: says it is wrong", () => {
    const result = opsStatus("deployed", { ...baseEnv(), PULUMI_CONFIG_PASSPHRASE: "not-the-passphrase" });
    expect(result).toEqual({
      code: 1,
      stderr:
        "ops: wrong passphrase for stack deployed: PULUMI_CONFIG_PASSPHRASE is not the one its secrets were " +
        "encrypted with. Set the passphrase given to npm run stack:init in this shell or in .env in the folder you " +
        "run npm from",
    });
  });

  it("for a stack that does not exist: names it and how to list or create one", () => {
    const env = { ...baseEnv(), PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
    const result = opsStatus("prod", env);
    expect(result).toEqual({
      code: 1,
      stderr:
        `ops: no stack prod in PULUMI_BACKEND_URL=${env.PULUMI_BACKEND_URL}. npm run pulumi -- stack ls lists the ` +
        "stacks there: name another with --stack NAME (or OPS_STACK), point PULUMI_BACKEND_URL at the state that " +
        "holds it, or create it (npm run stack:init makes prod; then set its config and npm run up)",
    });
  });

  it("for a stack never deployed: says it has no server yet and to run npm run up", () => {
    const result = opsStatus("empty", { ...baseEnv(), PULUMI_CONFIG_PASSPHRASE: PASSPHRASE });
    expect(result).toEqual({
      code: 1,
      stderr:
        "ops: stack empty has no server yet: it was never deployed (it has no outputs). Deploy it with npm run up, " +
        "or name a server: --host ADDRESS --key FILE --host-key 'ssh-ed25519 AAAA...'",
    });
  });

  it("writes no stack config into the project it runs in", () => {
    expect(existsSync(join(ROOT, "Pulumi.deployed.yaml"))).toBe(false);
    expect(existsSync(join(ROOT, "Pulumi.empty.yaml"))).toBe(false);
  });
});
