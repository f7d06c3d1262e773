// The one way to run something on a host, for the deploy's steps, the ops
// commands, the local stack, the benchmarks and the tests: a command line
// with its script on stdin (envelope.ts builds both), through a transport
// (this machine, or SSH with the host key pinned). What the host prints comes
// back, or streams to this terminal as it comes; a failure carries the host's
// own words. That output reaches an operator's terminal (and the stack's
// state): only terminal-safe.
import { terminalSafe } from "./terminal-safe.js";
import type { OutputListener, Transport } from "./transport.js";

export interface HostCommand {
  /** Runs on the host; the script arrives on stdin. */
  command: string;
  script: string;
  /** A file copied to the host before the command runs. */
  upload?: { localPath: string; remotePath: string };
  /** Ends the login session afterwards, so the next command starts a new one (with new groups, say). */
  endsSession?: boolean;
}

/** The host's command exited with an error; `output` is what it printed (already on the terminal when streamed). */
export class HostCommandError extends Error {
  override name = "HostCommandError";
  constructor(
    readonly what: string,
    readonly code: number | null,
    readonly output: string,
    where: string,
    streamed: boolean,
  ) {
    super(
      `${what} failed on ${where} (exit code ${code ?? "none"})` +
        (streamed ? "; its output is above" : `. Its output:\n${output}`),
    );
  }
}

/** Keeps the end of long output: the failure is at the end. */
const OUTPUT_LIMIT = 20_000;

/** Host output written to this terminal as it comes, made safe first. */
const TO_TERMINAL: OutputListener = {
  stdout: (chunk) => process.stdout.write(terminalSafe(chunk)),
  stderr: (chunk) => process.stderr.write(terminalSafe(chunk)),
};

/**
 * Runs `host` through `transport` and returns its standard output.
 * `what` names it in the failure ("status", 'Host step "bootstrap"').
 * `stream`: the output goes to this terminal as it comes (a followed log).
 */
export async function runOnHost(
  transport: Transport,
  what: string,
  host: HostCommand,
  options: { stream?: boolean } = {},
): Promise<string> {
  if (host.upload) await transport.upload(host.upload.localPath, host.upload.remotePath);
  const result = await transport.exec(host.command, host.script, options.stream ? TO_TERMINAL : undefined);
  if (result.code !== 0) {
    const output = [result.stdout, result.stderr]
      .filter((s) => s.trim() !== "")
      .join("\n")
      .trim();
    throw new HostCommandError(
      what,
      result.code,
      terminalSafe(output.slice(-OUTPUT_LIMIT)),
      transport.description,
      options.stream ?? false,
    );
  }
  if (host.endsSession) await transport.endSession();
  return terminalSafe(result.stdout);
}

/** A deploy step (infra/host/steps.ts), named as the engine's and the operator's messages name it. */
export function runStep(transport: Transport, step: HostCommand & { name: string }): Promise<string> {
  return runOnHost(transport, `Host step "${step.name}"`, step);
}
