// `npm run bench:deploys [-- --deploys N] [-- --json FILE]`: the deploy
// measure alone (bench/measure/deploy.ts), repeated: N app-only deploys (20
// unless --deploys or BENCH_DEPLOYS says otherwise) one after the other under
// one load of short and long answers through Caddy, on the stack `npm run
// local` runs. Prints the cut streams and failed requests in total (the
// target: 0 and 0), how each ended, and where the logs were kept if any.
// Needs Docker, like the full run's deploy measure; bounded by the count and
// by three minutes a deploy.
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/project-root.js";
import { deployCount } from "./deploy-count.js";
import { deployCost } from "./measure/deploy.js";
import { round, table } from "./stats.js";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { deploys: { type: "string" }, json: { type: "string" } } });
  const deploys = deployCount(values.deploys ?? process.env.BENCH_DEPLOYS, 20);
  const log = (line: string) => console.error(`bench: ${line}`);
  const began = Date.now();
  const cost = await deployCost({ dir: join(ROOT, ".tmp/bench-local"), log, deploys });
  const clean = cost.cutStreams === 0 && cost.failedRequests === 0;
  const rows: Array<[string, string, string]> = [
    ["measure", "value", "target"],
    [
      "deploys under load: cut streams, failed requests",
      `${cost.cutStreams}, ${cost.failedRequests} (over ${cost.deploys} deploys: ${cost.answersDuring} answers, ` +
        `${cost.longAnswersDuring} of them long, ${cost.requestsDuring} requests)`,
      `0, 0 ${clean ? "met" : "MISSED"}`,
    ],
    ...cost.cutHow.map((how): [string, string, string] => ["  cut or failed", how, ""]),
    ["deploy seconds: median, longest", `${cost.appDeploySeconds}, ${cost.appDeploySecondsMax}`, ""],
    ["no-change re-apply seconds", String(cost.reapplySeconds), ""],
  ];
  if (cost.logsKept) rows.push(["logs kept in", cost.logsKept, ""]);
  console.log(table(rows));
  const seconds = round((Date.now() - began) / 1000, 1);
  const machine = {
    cores: cpus().length,
    memoryBytes: totalmem(),
    cpuModel: cpus()[0]?.model ?? "unknown",
    node: process.version,
  };
  console.log(
    `${seconds} s on ${machine.cores} cores (${machine.cpuModel}), ${round(machine.memoryBytes / 2 ** 30, 1)} GiB, Node ${machine.node}`,
  );
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ ...cost, seconds, machine }, null, 2)}\n`);
  process.exitCode = clean ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
