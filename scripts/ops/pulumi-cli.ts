// The Pulumi CLI on one stack, through scripts/pulumi.sh (the engine built
// from Go modules): how the ops commands read a stack's outputs and config,
// and write its secrets. PULUMI_CONFIG_PASSPHRASE decrypts them.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../project-root.js";
import { OpsError } from "./ops-error.js";

/**
 * Runs `pulumi ARGS --stack STACK` with `input` on its stdin (a secret value:
 * never on a command line, where ps would show it). On failure, `failure`
 * words the error from the last line Pulumi printed.
 */
export function pulumiOnStack(
  stack: string,
  args: string[],
  failure: (pulumiSaid: string | undefined) => string,
  input?: string,
): string {
  try {
    return execFileSync("bash", [join(ROOT, "scripts/pulumi.sh"), ...args, "--stack", stack], {
      encoding: "utf8",
      input,
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new OpsError(failure(stderr.trim().split("\n").at(-1)));
  }
}
