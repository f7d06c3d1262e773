// `npm run ops -- rotate jwt|nats|llm` on the real compose stack, under load:
// long answers streaming through Caddy and short requests running the whole
// time, each rotation cuts no stream and fails no request; the old JWT key
// works through its overlap and not after; no API instance loses its NATS
// connection; every rotation is in the host's audit log.
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jwtKeyId } from "../../app/src/auth/jwt-keys.js";
import { natsKeyId } from "../../infra/host/nats-users.js";
import type { StackSettings } from "../../infra/host/steps.js";
import { LOCAL_STACK_SETTINGS, type LocalStack } from "../../scripts/local/local-stack.js";
import { ROOT } from "../../scripts/project-root.js";
import { ChatClient, textOf } from "../../scripts/loopback/chat-client.js";
import { startFakeAnthropic, type FakeLlm } from "../../scripts/loopback/fake-llm.js";
import { requestJson, waitUntilHealthy } from "../../scripts/loopback/http-client.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import { testStackDown, testStackUp } from "../harness/local-stack.js";

const DIR = join(ROOT, ".tmp/test-rotation");
/** The compose network's gateway (templates/stack/docker-compose.prod.yml): this machine, as the containers reach it. */
const GATEWAY = "172.29.0.1";
const FIRST_LLM_KEY = "sk-ant-first-key-of-the-rotation-test-0123";
const NEXT_LLM_KEY = "sk-ant-next-key-of-the-rotation-test-45678";
/** The fake provider's answer: 40 pieces, 100 ms apart (about 4 s a stream). */
const PIECES = Array.from({ length: 40 }, (_, i) => ` t${i}`);
const ANSWER = PIECES.join("");

interface LoadResult {
  streams: Array<{ status: number; last?: string; text: string }>;
  requests: Array<{ status: number; what: string }>;
}

describe("rotating each secret on the compose stack under load", () => {
  let stack: LocalStack;
  let llm: FakeLlm;
  let ca: Buffer;
  const settings = () => JSON.parse(readFileSync(join(DIR, LOCAL_STACK_SETTINGS), "utf8")) as StackSettings;
  const ops = async (args: string[], input?: string) => {
    const child = promisify(execFile)("npm", ["run", "-s", "ops", "--", ...args, "--local", "--local-dir", DIR], {
      cwd: ROOT,
      env: { ...process.env, OPS_ACTOR: "rotation-test" },
      maxBuffer: 16 << 20,
    });
    if (input !== undefined) child.child.stdin!.end(input);
    else child.child.stdin!.end();
    return child.then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code ?? 1,
        stdout: error.stdout ?? "",
        stderr: error.stderr ?? "",
      }),
    );
  };
  const status = async (token: string) =>
    (
      await requestJson("GET", `${stack.url}/v1/conversations`, undefined, {
        ca,
        headers: { authorization: `Bearer ${token}` },
      })
    ).status;

  /**
   * Runs `work` while two clients stream long answers (about 4 s each)
   * through Caddy and two send short requests, until it is over. Bounded:
   * at most 60 answers and 3,000 requests.
   */
  const underLoad = async (token: string, work: () => Promise<void>): Promise<LoadResult> => {
    const client = new ChatClient(stack.url, token, { ca, headers: { "accept-encoding": "gzip" } });
    const result: LoadResult = { streams: [], requests: [] };
    let over = false;
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ");
    const streamer = async () => {
      const id = await client.createConversation();
      for (let i = 0; i < 30 && !over; i++) {
        const stream = await client.send(id, words);
        await stream.ended;
        result.streams.push({
          status: stream.status,
          last: stream.events.at(-1)?.event,
          text: textOf(stream),
        });
      }
    };
    const requester = async () => {
      for (let i = 0; i < 1500 && !over; i++) {
        const list = await client.request("GET", "/v1/conversations");
        result.requests.push({ status: list.status, what: "list" });
        await sleep(40);
      }
    };
    const load = [streamer(), streamer(), requester(), requester()];
    try {
      await sleep(1000);
      await work();
      // A little more load after the last restart, on the instances as they are now.
      await sleep(2000);
    } finally {
      over = true;
      await Promise.all(load);
    }
    console.log(`under load: ${result.streams.length} answers streamed, ${result.requests.length} short requests`);
    return result;
  };
  const expectNothingFailed = (result: LoadResult) => {
    expect(result.streams.length).toBeGreaterThanOrEqual(4);
    expect(result.requests.length).toBeGreaterThanOrEqual(20);
    // Every answer whole: each of the provider's 40 pieces, in order.
    expect(result.streams.filter((s) => s.status !== 200 || s.last !== "done" || s.text !== ANSWER)).toEqual([]);
    expect(result.requests.filter((r) => r.status !== 200)).toEqual([]);
  };
  const audit = async () =>
    (JSON.parse((await ops(["releases", "--json"])).stdout) as { audit: Array<{ action: string; detail: string }> })
      .audit;
  const apiLogs = () => stack.compose("logs", "--no-log-prefix", "api-1", "api-2");
  const natsMonitor = (path: string) =>
    JSON.parse(stack.compose("exec", "-T", "nats", "wget", "-qO-", `http://127.0.0.1:8222/${path}`)) as Record<
      string,
      any
    >;

  beforeAll(async () => {
    const llmPort = await freePort();
    stack = await testStackUp(DIR, {
      llmProvider: "anthropic",
      llmApiKey: FIRST_LLM_KEY,
      apiSettings: { ANTHROPIC_BASE_URL: `http://${GATEWAY}:${llmPort}`, RATE_LIMIT_REQUESTS: "100000" },
    });
    // The network exists now: the fake provider listens on its gateway, for the containers.
    llm = await startFakeAnthropic({ host: GATEWAY, port: llmPort });
    llm.keys.clear();
    llm.keys.add(FIRST_LLM_KEY);
    llm.setDefault({ kind: "stream", chunks: PIECES, delayMs: 100 });
    ca = readFileSync(stack.caCertificate);
    await waitUntilHealthy(stack.url, { ca });
  }, 240_000);
  afterAll(async () => {
    await llm?.close();
    testStackDown(DIR);
  }, 240_000);

  it("jwt: the new key signs, the old key's tokens work through the overlap and are refused after it", async () => {
    const oldSecret = settings().jwtSecret;
    // An issuer from before key ids (no `kid`), and one that names the key.
    const oldToken = await tokenFor("olga", { secret: oldSecret, expiresIn: "2h" });
    const oldKidToken = await tokenFor("olga", { secret: oldSecret, kid: jwtKeyId(oldSecret) });
    let rotated = { code: -1, stdout: "", stderr: "" };
    const load = await underLoad(oldToken, async () => {
      rotated = await ops(["rotate", "jwt", "--overlap", "100s"]);
    });
    expect(rotated.code, rotated.stderr + rotated.stdout).toBe(0);
    expect(rotated.stdout).toMatch(/rotate jwt, step 1 of 1: key k\S+ becomes the signing key/);
    expectNothingFailed(load);
    const now = settings();
    expect(now.jwtSecret).not.toBe(oldSecret);
    expect(now.jwtSecret).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(now.jwtPreviousSecret?.secret).toBe(oldSecret);
    // Both keys during the overlap; ops token signs with the new one.
    const newToken = (await ops(["token", "--sub", "olga"])).stdout.trim();
    expect(newToken.split(".")).toHaveLength(3);
    expect([await status(oldToken), await status(oldKidToken), await status(newToken)]).toEqual([200, 200, 200]);
    // Finishing early is refused: tokens of the old key may still be in use.
    const early = await ops(["rotate", "jwt", "--finish"]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/accepted until .*--now/);

    // The overlap ends: the API refuses the old key by itself, before it is removed.
    const until = Date.parse(now.jwtPreviousSecret!.until!);
    await sleep(Math.max(0, until - Date.now()) + 1000);
    expect([await status(oldToken), await status(oldKidToken), await status(newToken)]).toEqual([401, 401, 200]);
    let finished = { code: -1, stdout: "", stderr: "" };
    expectNothingFailed(
      await underLoad(newToken, async () => {
        finished = await ops(["rotate", "jwt", "--finish"]);
      }),
    );
    expect(finished.code, finished.stderr + finished.stdout).toBe(0);
    expect(settings().jwtPreviousSecret).toBeUndefined();
    expect([await status(oldToken), await status(newToken)]).toEqual([401, 200]);
    expect((await audit()).filter((e) => e.action === "rotate").map((e) => e.detail)).toEqual([
      `jwt: key ${jwtKeyId(now.jwtSecret)} added; ${jwtKeyId(oldSecret)} accepted until ${now.jwtPreviousSecret!.until}`,
      `jwt: key ${jwtKeyId(oldSecret)} removed`,
    ]);
  }, 600_000);

  it("nats: new users beside the old (a live reload), the instances moved one by one, the old removed; no connection dropped", async () => {
    const oldKid = natsKeyId(settings().natsToken);
    const before = natsMonitor("varz");
    const since = new Date().toISOString();
    const token = (await ops(["token", "--sub", "nina"])).stdout.trim();
    let rotated = { code: -1, stdout: "", stderr: "" };
    expectNothingFailed(
      await underLoad(token, async () => {
        rotated = await ops(["rotate", "nats"]);
      }),
    );
    expect(rotated.code, rotated.stderr + rotated.stdout).toBe(0);
    expect(rotated.stdout).toMatch(/step 1 of 2: NATS users \S+ added beside/);
    expect(rotated.stdout).toMatch(/step 2 of 2: the users of \S+ removed/);
    expect(rotated.stdout.match(/NATS config reloaded live/g)).toHaveLength(2);
    const newKid = natsKeyId(settings().natsToken);
    expect(newKid).not.toBe(oldKid);
    // The same NATS server throughout: reloaded, never restarted.
    const after = natsMonitor("varz");
    expect(after.start).toBe(before.start);
    // Every client is on the new users; none was ever cut (the API logs each loss).
    const users = (natsMonitor("connz?auth=true").connections as Array<{ authorized_user: string }>).map(
      (c) => c.authorized_user,
    );
    expect(users.sort()).toEqual([`api-${newKid}`, `api-${newKid}`]);
    expect(stack.compose("logs", "--no-log-prefix", "--since", since, "api-1", "api-2")).not.toMatch(
      /NATS connection lost/,
    );
    expect(readFileSync(join(DIR, "app/nats/nats-auth.conf"), "utf8")).not.toContain(oldKid);
    // The ops commands log in with the new ops user too.
    const backup = await ops(["backup", "--out", join(DIR, "backups")]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(
      (await audit())
        .filter((e) => e.action === "rotate")
        .map((e) => e.detail)
        .slice(-2),
    ).toEqual([
      `nats: users of ${newKid} added beside ${oldKid}; the API instances moved to them`,
      `nats: users of ${oldKid} removed`,
    ]);
  }, 600_000);

  it("llm: the new key in the stack, the instances moved one by one, then the old key can go", async () => {
    llm.keys.add(NEXT_LLM_KEY);
    const token = (await ops(["token", "--sub", "lena"])).stdout.trim();
    let rotated = { code: -1, stdout: "", stderr: "" };
    expectNothingFailed(
      await underLoad(token, async () => {
        rotated = await ops(["rotate", "llm"], `${NEXT_LLM_KEY}\n`);
      }),
    );
    expect(rotated.code, rotated.stderr + rotated.stdout).toBe(0);
    expect(settings().llmApiKey).toBe(NEXT_LLM_KEY);
    expect(apiLogs()).not.toMatch(/NATS connection lost/);
    // The provider revokes the old key: answers still come.
    llm.keys.delete(FIRST_LLM_KEY);
    const seen = llm.requests.length;
    const client = new ChatClient(stack.url, token, { ca });
    const id = await client.createConversation();
    for (let i = 0; i < 4; i++) {
      const answer = await client.send(id, `after the rotation ${i}`);
      await answer.ended;
      expect(answer.events.at(-1)!.event).toBe("done");
    }
    expect(
      new Set(
        llm.requests.slice(seen).map((r) => r.headers["x-api-key"] ?? r.headers.authorization?.replace(/^Bearer /, "")),
      ),
    ).toEqual(new Set([NEXT_LLM_KEY]));
    expect((await audit()).at(-1)).toMatchObject({
      actor: "rotation-test",
      action: "rotate",
      detail: expect.stringMatching(/^llm: /),
    });
    // The key is never in a command line or the audit log.
    expect(JSON.stringify(await audit())).not.toContain(NEXT_LLM_KEY);
  }, 600_000);

  it("revokes a user's tokens on both instances with npm run ops -- revoke", async () => {
    const token = (await ops(["token", "--sub", "rudi"])).stdout.trim();
    expect(await status(token)).toBe(200);
    const revoked = await ops(["revoke", "rudi"]);
    expect(revoked.code, revoked.stderr).toBe(0);
    for (const port of [8081, 8082]) {
      const res = await requestJson("GET", `http://127.0.0.1:${port}/v1/conversations`, undefined, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status, String(port)).toBe(401);
    }
    expect((await audit()).at(-1)).toMatchObject({
      action: "revoke",
      detail: expect.stringMatching(/^tokens of "rudi"/),
    });
    const later = (await sleep(1100), (await ops(["token", "--sub", "rudi"])).stdout.trim());
    expect(await status(later)).toBe(200);
  }, 120_000);

  it("keeps the NATS monitoring port inside its container", () => {
    expect(execFileSync("ss", ["-ltnH"], { encoding: "utf8" })).not.toMatch(/:8222\s/);
    expect(natsMonitor("healthz").status).toBe("ok");
  });
});
