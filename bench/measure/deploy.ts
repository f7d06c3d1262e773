// What a deploy costs on the stack `npm run local` runs (the production
// compose file on this machine's Docker engine): the wall time of an
// app-only deploy (`npm run ops -- deploy --local`) and of a no-change
// re-apply of the host steps, and whether any request failed or any stream
// was cut while the deploy ran under load through Caddy.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { localStackDown, localStackUp } from "../../scripts/local/local-stack.js";
import { ROOT } from "../../scripts/project-root.js";
import { natsServerBinary } from "../../scripts/setup/tools.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import { keepAliveAgents, openStream, requestJson } from "../sse-load.js";
import { round } from "../stats.js";

export interface DeployCost {
  appDeploySeconds: number;
  reapplySeconds: number;
  failedRequests: number;
  cutStreams: number;
  cutHow: string[];
  answersDuring: number;
  requestsDuring: number;
}

function run(command: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    child.once("close", resolve);
  });
}

export async function deployCost(options: { dir: string; log: (line: string) => void }): Promise<DeployCost> {
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
      apiSettings: {
        RATE_LIMIT_REQUESTS: "100000000",
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
    // A bounded load while `during` runs: two loops of ~2 s answers, one of short requests.
    const underLoad = async (during: Promise<number | null>) => {
      let over = false;
      const done = during.finally(() => (over = true));
      let failed = 0;
      let cut = 0;
      const cutHow: string[] = [];
      let answers = 0;
      let requests = 0;
      const content = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
      const streams = async () => {
        for (let i = 0; i < 200 && !over; i++) {
          const id = ((await api("POST", "/v1/conversations", {})).body as { id: string }).id;
          const outcome = await openStream(
            {
              url: `${stack.url}/v1/conversations/${id}/messages`,
              method: "POST",
              body: JSON.stringify({ content }),
              headers,
              tokenEvent: "delta",
              ca,
            },
            { agents, timeoutMs: 120_000 },
          );
          answers++;
          if (outcome.error || !outcome.completed || outcome.tokens < 60) {
            cut++;
            cutHow.push(
              outcome.error ??
                `HTTP ${outcome.status}, ${outcome.tokens} tokens, last event ${outcome.lastEvent ?? "none"}`,
            );
          }
        }
      };
      const shorts = async () => {
        for (let i = 0; i < 2000 && !over; i++) {
          const answer = await api("GET", "/v1/conversations").catch(() => ({ status: 0 }));
          requests++;
          if (answer.status !== 200) failed++;
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const [code] = await Promise.all([done, streams(), streams(), shorts()]);
      return { code, failed, cut, cutHow, answers, requests };
    };

    options.log("app-only deploy under load (npm run ops -- deploy --local)");
    const bundle = join(options.dir, "bench-release.cjs");
    writeFileSync(
      bundle,
      Buffer.concat([readFileSync(join(ROOT, "dist/api.cjs")), Buffer.from(`\n// bench ${Date.now()}\n`)]),
    );
    const started = Date.now();
    const deployed = await underLoad(
      run("npx", ["tsx", "scripts/ops.ts", "deploy", "--bundle", bundle, "--local", "--local-dir", options.dir]),
    );
    const appDeploySeconds = (Date.now() - started) / 1000;
    if (deployed.code !== 0) throw new Error(`npm run ops -- deploy --local failed (exit code ${deployed.code})`);

    options.log("no-change re-apply of the release and stack steps");
    const reapplyStarted = Date.now();
    await stack.deploy(readFileSync(bundle));
    const reapplySeconds = (Date.now() - reapplyStarted) / 1000;
    return {
      appDeploySeconds: round(appDeploySeconds, 1),
      reapplySeconds: round(reapplySeconds, 1),
      failedRequests: deployed.failed,
      cutStreams: deployed.cut,
      /** How each cut stream ended, so a cut can be told apart from a refusal. */
      cutHow: [...new Set(deployed.cutHow)].slice(0, 6),
      answersDuring: deployed.answers,
      requestsDuring: deployed.requests,
    };
  } finally {
    agents.destroy();
    localStackDown(options.dir, () => undefined);
  }
}
