// Carries out a host command through the target's transport: output streamed
// to this terminal when asked, and a failure reported with the host's words,
// both terminal-safe (a host's bytes never drive this terminal).
import { terminalSafe } from "../../../infra/host/terminal-safe.js";
import type { HostCommand } from "../host-commands.js";
import type { Target } from "../target.js";
import { OpsError } from "../target.js";

export async function runOnHost(
  target: Target,
  what: string,
  host: HostCommand,
  options: { stream?: boolean } = {},
): Promise<string> {
  const listener = options.stream
    ? {
        stdout: (c: string) => process.stdout.write(terminalSafe(c)),
        stderr: (c: string) => process.stderr.write(terminalSafe(c)),
      }
    : undefined;
  const result = await target.transport.exec(host.command, host.script, listener);
  if (result.code !== 0) {
    const said = options.stream
      ? ""
      : `\n${[result.stdout, result.stderr]
          .filter((s) => s.trim())
          .join("\n")
          .trim()}`;
    throw new OpsError(
      `${what} failed on ${target.description} (exit code ${result.code ?? "none"})${terminalSafe(said)}`,
    );
  }
  return terminalSafe(result.stdout);
}
