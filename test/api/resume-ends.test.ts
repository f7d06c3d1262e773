// A resume stream always ends, even when its answer never will: its
// conversation deleted, or its end impossible to store (a full store). The
// client here never hangs up by itself: it must get an `error` event with a
// documented code, then the server's close, within a lease (4 s here), and
// the stream's JetStream consumer must be gone.
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SseStream } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

const LEASE_MS = 4_000;
const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i} `);

/** Resolves with how long the server took to end the stream, or fails past `limitMs`. */
async function endsWithin(stream: SseStream, limitMs: number): Promise<number> {
  const startedAt = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the stream was still open after ${limitMs} ms`)), limitMs);
  });
  try {
    await Promise.race([stream.ended, late]);
    return Date.now() - startedAt;
  } finally {
    clearTimeout(timer);
  }
}

async function consumersLeft(jsm: JetStreamManager): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const count = (await jsm.consumers.list("CONVERSATIONS").next()).length;
    if (count === 0 || Date.now() > deadline) return count;
    await sleep(100);
  }
}

function useStack(env: Record<string, string>) {
  const ctx = {} as { stack: Stack; nc: NatsConnection; jsm: JetStreamManager };
  beforeAll(async () => {
    ctx.stack = await startStack({
      instances: 2,
      env: { RATE_LIMIT_REQUESTS: "100000", GENERATION_LEASE: `${LEASE_MS}ms`, ...env },
    });
    ctx.nc = await connect({ servers: ctx.stack.nats.url, token: ctx.stack.nats.token });
    ctx.jsm = await jetstreamManager(ctx.nc);
  }, 60_000);
  afterAll(async () => {
    await ctx.nc?.close();
    await ctx.stack?.stop();
  });
  return ctx;
}

describe("a resume stream whose conversation is deleted", () => {
  const ctx = useStack({});

  it("gets conversation_deleted and is closed by the server, its consumer gone", async () => {
    const a = await ctx.stack.client("wade", ctx.stack.apis[0]);
    const b = await ctx.stack.client("wade", ctx.stack.apis[1]);
    const id = await a.createConversation();
    ctx.stack.llm.script({ kind: "stream", chunks: words(400), delayMs: 20 });
    const live = await a.send(id, "a long one");
    await live.waitForEvents(5);
    // Followed from the other instance, which does not generate it.
    const following = await b.resume(id, live.headers["x-message-id"] as string);
    await following.waitForEvents(5);

    expect((await a.request("DELETE", `/v1/conversations/${id}`)).status).toBe(204);
    expect(await endsWithin(following, LEASE_MS)).toBeLessThan(LEASE_MS);
    const [before, end] = following.events.slice(-2);
    expect(end).toMatchObject({ event: "error", data: { code: "conversation_deleted" } });
    // Its id is the last one received: a later resume from it would miss nothing.
    expect(end!.id).toBe(before!.id);
    expect(await consumersLeft(ctx.jsm)).toBe(0);
    await live.ended;
  }, 30_000);
});

describe("a resume stream whose answer's end cannot be stored", () => {
  const ctx = useStack({ CHAT_MAX_BYTES: "1MB" });

  it("gets answer_unavailable within a lease of the answer's end and is closed, its consumer gone", async () => {
    const a = await ctx.stack.client("xavi", ctx.stack.apis[0]);
    const b = await ctx.stack.client("xavi", ctx.stack.apis[1]);
    const id = await a.createConversation();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    ctx.stack.llm.script({ kind: "stream", chunks: words(20).map((w) => w.repeat(100)), delayMs: 20, gate });
    const live = await a.send(id, "answer once the store is full");
    const following = await b.resume(id, live.headers["x-message-id"] as string);
    expect(following.status).toBe(200);

    // The store fills up before the answer's first event: none of its
    // events, and no end of any size, fits any more.
    const js = jetstream(ctx.nc);
    const filler = `conv.${crypto.randomUUID()}.msg.${crypto.randomUUID()}`;
    let published = 0;
    for (const size of [64 * 1024, 4 * 1024, 256, 1]) {
      for (let i = 0; i < 400; i++) {
        const stored = await js.publish(filler, "f".repeat(size)).then(
          () => true,
          () => false,
        );
        if (!stored) break;
        published++;
      }
    }
    expect(published).toBeGreaterThan(10);

    open();
    await live.ended;
    expect(live.events.at(-1)?.event).toBe("done");
    // The generator could not store its end and let go of the answer; the
    // resume's checks find it dead, and its end impossible to store.
    expect(await endsWithin(following, LEASE_MS)).toBeLessThan(LEASE_MS);
    expect(following.events.at(-1)).toMatchObject({ event: "error", data: { code: "answer_unavailable" } });
    // Nothing of the answer was ever stored: the event carries id 0, "from the start".
    expect(following.events.map((e) => e.id)).toEqual(["0"]);
    expect(await consumersLeft(ctx.jsm)).toBe(0);
  }, 60_000);
});
