// Carries out a host command through the target's transport: output streamed
// to this terminal when asked, and a failure reported with the host's words.
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
    ? { stdout: (c: string) => process.stdout.write(c), stderr: (c: string) => process.stderr.write(c) }
    : undefined;
  const result = await target.transport.exec(host.command, host.script, listener);
  if (result.code !== 0) {
    const said = options.stream
      ? ""
      : `\n${[result.stdout, result.stderr]
          .filter((s) => s.trim())
          .join("\n")
          .trim()}`;
    throw new OpsError(`${what} failed on ${target.description} (exit code ${result.code ?? "none"})${said}`);
  }
  return result.stdout;
}
