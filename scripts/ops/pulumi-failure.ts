// Why scripts/pulumi.sh could not read or change a stack, from its exit code
// and standard error, as one message that names the cause and the fix.
// Pulumi's last line is often a hint ("Keep it in a password manager ...")
// or a cause wrapped in others: the operator needs the cause.

export interface PulumiFailure {
  /** The exit code; null when a signal ended it. */
  code: number | null;
  stderr: string;
}

/** What the message names: the stack, and where its state and passphrase come from. */
export interface PulumiSetting {
  stack: string;
  /** PULUMI_BACKEND_URL; unset, scripts/pulumi.sh uses the project's .pulumi-state/. */
  backend?: string;
  /** Set (non-empty) when PULUMI_CONFIG_PASSPHRASE is. */
  passphrase?: string;
  passphraseFile?: string;
}

const WHERE_TO_SET = "in this shell or in .env in the folder you run npm from";

export function explainPulumiFailure(failure: PulumiFailure, setting: PulumiSetting): string {
  const { stderr } = failure;
  const { stack } = setting;
  const backend = setting.backend ? `PULUMI_BACKEND_URL=${setting.backend}` : "the project's .pulumi-state/";

  // scripts/pulumi.sh refuses first; the CLI says the same when called by itself.
  if (
    /^Set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE\b/m.test(stderr) ||
    /passphrase must be set with PULUMI_CONFIG_PASSPHRASE/.test(stderr)
  )
    return (
      `no passphrase for stack ${stack}: its secrets are encrypted with the passphrase given to npm run stack:init. ` +
      `Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE, a file that holds it) ${WHERE_TO_SET}`
    );

  const unreadable = /unable to read PULUMI_CONFIG_PASSPHRASE_FILE: (.+)/.exec(stderr);
  if (unreadable)
    return (
      `PULUMI_CONFIG_PASSPHRASE_FILE cannot be read (${unreadable[1]!.trim()}): ` +
      `point it at the file that holds stack ${stack}'s passphrase, or set PULUMI_CONFIG_PASSPHRASE instead`
    );

  if (/incorrect passphrase/.test(stderr)) {
    // The CLI takes PULUMI_CONFIG_PASSPHRASE before the file.
    const given = setting.passphrase
      ? "PULUMI_CONFIG_PASSPHRASE"
      : `the passphrase in PULUMI_CONFIG_PASSPHRASE_FILE (${setting.passphraseFile ?? "unset"})`;
    return (
      `wrong passphrase for stack ${stack}: ${given} is not the one its secrets were encrypted with. ` +
      `Set the passphrase given to npm run stack:init ${WHERE_TO_SET}`
    );
  }

  const missing = /no stack named '([^']+)' found/.exec(stderr);
  if (missing)
    return (
      `no stack ${missing[1]} in ${backend}. npm run pulumi -- stack ls lists the stacks there: ` +
      `name another with --stack NAME (or OPS_STACK), point PULUMI_BACKEND_URL at the state that holds it, ` +
      `or create it (npm run stack:init makes prod; then set its config and npm run up)`
    );

  const backendGone = /unable to open bucket (\S+?)(?:\?\S*)?: (.+)/.exec(stderr);
  if (backendGone)
    return (
      `the state backend ${backendGone[1]} cannot be opened (${backendGone[2]!.trim()}): ` +
      `point PULUMI_BACKEND_URL at the folder or bucket that holds stack ${stack}, ` +
      `or unset it for the project's .pulumi-state/`
    );

  // scripts/setup/build-engine.sh: no Go to build the engine with.
  if (failure.code === 127 && /Building the Pulumi engine needs Go/.test(stderr))
    return `cannot run Pulumi for stack ${stack}: ${lastLine(stderr)}`;

  const errors = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => /^error:/i.test(line));
  const said = errors.length > 0 ? errors.join("; ") : lastLine(stderr) || "nothing on standard error";
  return `pulumi failed on stack ${stack} (${failure.code === null ? "killed by a signal" : `exit code ${failure.code}`}): ${said}`;
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1)?.trim() ?? "";
}
