// The compose stack `npm run local` runs (scripts/local/local-stack.ts), as
// the stack tests start it: in the test's own folder, on free loopback
// ports, with the test's provider settings and no log lines; whatever a
// previous run left in that folder taken down first.
import {
  localStackDown,
  localStackUp,
  type LocalStack,
  type LocalStackOptions,
} from "../../scripts/local/local-stack.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { natsServerBinary } from "../../scripts/setup/tools.js";

export async function testStackUp(dir: string, llm: NonNullable<LocalStackOptions["llm"]>): Promise<LocalStack> {
  testStackDown(dir);
  return localStackUp({
    dir,
    natsServer: natsServerBinary(),
    httpsPort: await freePort(),
    httpPort: await freePort(),
    adminPort: await freePort(),
    llm,
    log: () => undefined,
  });
}

/** The stack in `dir` stopped and its containers removed (the API instances get their stop grace period). */
export function testStackDown(dir: string): void {
  localStackDown(dir, () => undefined);
}
