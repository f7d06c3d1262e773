// What a deploy costs on the stack `npm run local` runs (the production
// compose file on this machine's Docker engine): the wall time of an
// app-only deploy (`npm run ops -- deploy --local`), repeated `deploys`
// times under one load, and of a no-change re-apply of the host steps; and
// whether any request failed or any stream was cut while the deploys ran
// under load through Caddy. When anything was cut or failed, Caddy's and the
// API instances' logs are kept, so the cause can be read afterwards.
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localStackDown, localStackUp, type LocalStack } from "../../scripts/local/local-stack.js";
import { ROOT } from "../../scripts/project-root.js";
import { natsServerBinary } from "../../scripts/setup/tools.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import { keepAliveAgents, openStream, requestJson } from "../sse-load.js";
import { percentile, round } from "../stats.js";

export interface DeployCost {
  /** App-only deploys run one after the other under the same load. */
  deploys: number;
  /** Each deploy's wall time: the median and the longest. */
  appDeploySeconds: number;
  appDeploySecondsMax: number;
  reapplySeconds: number;
  failedRequests: number;
  cutStreams: number;
  /** How each cut stream and failed request ended, so a cut can be told apart from a refusal. */
  cutHow: string[];
  answersDuring: number;
  /** Of those, the long answers (about 10 s each, longer than the drain delay). */
  longAnswersDuring: number;
  requestsDuring: number;
  /** Where Caddy's and the API instances' logs were kept (only when something was cut or failed). */
  logsKept?: string;
}

/** The load: words the mock provider echoes back, one token every 30 ms. */
const SHORT_WORDS = 60;
const LONG_WORDS = 330;

function run(command: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    child.once("close", resolve);
  });
}

export async function deployCost(options: {
  dir: string;
  log: (line: string) => void;
  /** Default 1 (the full benchmark's run). */
  deploys?: number;
}): Promise<DeployCost> {
  const deploys = options.deploys ?? 1;
  localStackDown(options.dir, () => undefined);
  const stack = await localStackUp({
    dir: options.dir,
    natsServer: natsServerBinary(),
    httpsPort: await freePort(),
    httpPort: await freePort(),
    adminPort: await freePort(),
    llm: {
      llmProvider: "mock",
      llmApiKey: "",
      // The load is one user's: neither the rate limit nor the cap on answers
      // in progress (three loops of answers at once) is what is measured.
      apiSettings: {
        RATE_LIMIT_REQUESTS: "100000000",
        MAX_ACTIVE_ANSWERS_PER_USER: "10",
        USER_INPUT_TOKENS_PER_WINDOW: "0",
        USER_OUTPUT_TOKENS_PER_WINDOW: "0",
        USER_MAX_STORED_BYTES: "0",
      },
    },
    log: () => undefined,
  });
  const agents = keepAliveAgents();
  try {
    const token = await tokenFor("bench-deploy", { secret: stack.jwtSecret });
    const ca = readFileSync(stack.caCertificate);
    const headers = { authorization: `Bearer ${token}` };
    const api = (method: "GET" | "POST", path: string, body?: unknown) =>
      requestJson(
        {
          url: `${stack.url}${path}`,
          method,
          headers,
          ca,
          body: body === undefined ? undefined : JSON.stringify(body),
        },
        agents,
      );
    const began = Date.now();
    let deploying = 0;
    const when = () =>
      `deploy ${deploying} at ${round((Date.now() - began) / 1000, 1)} s (${new Date().toISOString().slice(11, 23)} UTC)`;
    // A bounded load while `during` runs: two loops of ~2 s answers, one of
    // ~10 s answers (they outlast the drain delay, so a deploy meets them in
    // every state), and one of short requests.
    const underLoad = async (during: Promise<void>) => {
      let over = false;
      const done = during.finally(() => (over = true));
      let failed = 0;
      let cut = 0;
      const how: string[] = [];
      let answers = 0;
      let longAnswers = 0;
      let requests = 0;
      const streams = async (words: number) => {
        const content = Array.from({ length: words }, (_, i) => `w${i}`).join(" ");
        for (let i = 0; i < 200 * deploys && !over; i++) {
          const created = await api("POST", "/v1/conversations", {}).catch((err: Error) => ({
            status: 0,
            body: err.message,
          }));
          const id = (created.body as { id?: string }).id;
          const outcome = id
            ? await openStream(
                {
                  url: `${stack.url}/v1/conversations/${id}/messages`,
                  method: "POST",
                  body: JSON.stringify({ content }),
                  headers,
                  tokenEvent: "delta",
                  ca,
                },
                { agents, timeoutMs: 120_000 },
              )
            : undefined;
          answers++;
          if (words === LONG_WORDS) longAnswers++;
          if (!outcome) {
            cut++;
            how.push(`${when()}: new conversation: HTTP ${created.status} ${JSON.stringify(created.body)}`);
          } else if (outcome.error || !outcome.completed || outcome.tokens < words) {
            cut++;
            how.push(
              `${when()}: ` +
                (outcome.error ??
                  `HTTP ${outcome.status}, ${outcome.tokens} tokens, last event ${outcome.lastEvent ?? "none"}`),
            );
          }
        }
      };
      const shorts = async () => {
        for (let i = 0; i < 2000 * deploys && !over; i++) {
          const answer = await api("GET", "/v1/conversations").catch((err: Error) => ({
            status: 0,
            body: err.message,
          }));
          requests++;
          if (answer.status !== 200) {
            failed++;
            how.push(`${when()}: GET /v1/conversations: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await Promise.all([done, streams(SHORT_WORDS), streams(SHORT_WORDS), streams(LONG_WORDS), shorts()]);
      return { failed, cut, how, answers, longAnswers, requests };
    };

    options.log(`${deploys} app-only deploy(s) under load (npm run ops -- deploy --local)`);
    const seconds: number[] = [];
    // Bounded: no deploy starts after this, whatever the count.
    const deadline = Date.now() + deploys * 180_000;
    const deployAll = async () => {
      for (deploying = 1; deploying <= deploys && Date.now() < deadline; deploying++) {
        // Each deploy a new release: the same bundle with its own last line.
        const bundle = join(options.dir, "bench-release.cjs");
        writeFileSync(
          bundle,
          Buffer.concat([
            readFileSync(join(ROOT, "dist/api.cjs")),
            Buffer.from(`\n// bench ${Date.now()} ${deploying}\n`),
          ]),
        );
        const started = Date.now();
        const code = await run("npx", [
          "tsx",
          "scripts/ops.ts",
          "deploy",
          "--bundle",
          bundle,
          "--local",
          "--local-dir",
          options.dir,
        ]);
        if (code !== 0)
          throw new Error(`npm run ops -- deploy --local failed on deploy ${deploying} (exit code ${code})`);
        seconds.push((Date.now() - started) / 1000);
        if (deploys > 1) options.log(`  deploy ${deploying} of ${deploys}: ${round(seconds.at(-1)!, 1)} s`);
      }
    };
    const deployed = await underLoad(deployAll());
    const keep = deployed.cut + deployed.failed > 0;

    options.log("no-change re-apply of the release and stack steps");
    const reapplyStarted = Date.now();
    await stack.deploy(readFileSync(join(options.dir, "bench-release.cjs")));
    const reapplySeconds = (Date.now() - reapplyStarted) / 1000;
    return {
      deploys: seconds.length,
      appDeploySeconds: round(percentile(seconds, 50), 1),
      appDeploySecondsMax: round(Math.max(...seconds), 1),
      reapplySeconds: round(reapplySeconds, 1),
      failedRequests: deployed.failed,
      cutStreams: deployed.cut,
      cutHow: deployed.how.slice(0, 12),
      answersDuring: deployed.answers,
      longAnswersDuring: deployed.longAnswers,
      requestsDuring: deployed.requests,
      ...(keep ? { logsKept: keepLogs(options.dir, stack) } : {}),
    };
  } finally {
    agents.destroy();
    localStackDown(options.dir, () => undefined);
  }
}

/** Caddy's log and access log and the API instances' logs, beside the stack's folder (which is removed). */
function keepLogs(dir: string, stack: LocalStack): string {
  const kept = `${dir}-logs-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  mkdirSync(kept, { recursive: true });
  for (const file of ["caddy.log", "access.log"])
    if (existsSync(join(dir, file))) copyFileSync(join(dir, file), join(kept, file));
  writeFileSync(join(kept, "api.log"), stack.compose("logs", "--no-color", "--timestamps", "api-1", "api-2"));
  return kept;
}
