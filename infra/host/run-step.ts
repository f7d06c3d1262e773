// Carries out one host step through a transport: upload its file, run its
// script, and fail with the host's own output when it fails. That output
// reaches the operator's terminal (and the stack's state): only terminal-safe.
import type { HostStep } from "./steps.js";
import { terminalSafe } from "./terminal-safe.js";
import type { Transport } from "./transport/transport.js";

export class HostStepError extends Error {
  constructor(
    readonly step: string,
    readonly code: number | null,
    readonly output: string,
    where: string,
  ) {
    super(`Host step "${step}" failed on ${where} (exit code ${code ?? "none"}). Its output:\n${output}`);
    this.name = "HostStepError";
  }
}

/** Keeps the end of long output: the failure is at the end. */
const OUTPUT_LIMIT = 20_000;

/** What running a step needs; the rest of a HostStep describes it. */
export type RunnableStep = Pick<HostStep, "name" | "command" | "script" | "upload" | "endsSession">;

export async function runStep(transport: Transport, step: RunnableStep): Promise<string> {
  if (step.upload) await transport.upload(step.upload.localPath, step.upload.remotePath);
  const result = await transport.exec(step.command, step.script);
  const output = [result.stdout, result.stderr].filter((s) => s.trim() !== "").join("\n");
  if (result.code !== 0)
    throw new HostStepError(step.name, result.code, terminalSafe(output.slice(-OUTPUT_LIMIT)), transport.description);
  if (step.endsSession) await transport.endSession();
  return terminalSafe(result.stdout);
}
