// A command on a test host through the project's own transport, with its
// output in one string besides stdout and stderr (for assertion messages).
import type { Transport } from "../../infra/host/runner/transport.js";

export async function run(transport: Transport, command: string, stdin?: string) {
  const result = await transport.exec(command, stdin);
  return { ...result, output: `${result.stdout}\n${result.stderr}` };
}
