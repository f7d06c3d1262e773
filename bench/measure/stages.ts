// Where the time before the first token goes: each thing the API does
// before (and to) call the model, timed alone with the API's own code (its
// chat store on the benchmark's NATS, its provider on the fake), in the order
// a new message does them. Their sum against the measured added time says
// what the API's overhead is made of.
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { anthropicProvider } from "../../app/src/providers/anthropic.js";
import { ChatStore } from "../../app/src/store/chat-store.js";
import type { Platform } from "../platform.js";
import { percentile, round } from "../stats.js";

export type Stages = Record<string, number>;

export async function stages(platform: Platform, samples: number): Promise<Stages> {
  const nc = await connect({ servers: platform.stack.nats.url, token: platform.stack.nats.token });
  try {
    const store = await ChatStore.open(nc, {
      replicas: 1,
      leaseTtlMs: 30_000,
      retentionMs: 0,
      maxBytes: 256 * 1024 * 1024,
    });
    const provider = anthropicProvider({ apiKey: platform.stack.llm.apiKey, baseURL: platform.stack.llm.url });
    platform.setReply(20, 2);
    const times: Record<string, number[]> = {};
    const time = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const value = await work();
      (times[name] ??= []).push(performance.now() - started);
      return value;
    };
    const owner = "bench-stages";
    for (let i = 0; i < samples; i++) {
      // A conversation with one earlier exchange, as the second message of a chat finds it.
      const id = randomUUID();
      await store.createConversation(owner, { id, title: null, createdAt: new Date().toISOString() });
      await store.contexts.put(
        id,
        [
          { role: "user", content: "earlier" },
          { role: "assistant", content: "x ".repeat(20) },
        ],
        0,
      );

      const replyId = randomUUID();
      const message = {
        kind: "user" as const,
        id: randomUUID(),
        replyId,
        content: "now",
        model: "m",
        provider: "anthropic",
        createdAt: new Date().toISOString(),
      };
      // The route's three rounds, each timed whole (its requests run in
      // parallel), and the single requests of the first round alone.
      const [, , slot] = await time("round 1: conversation, context and answer slot together", () =>
        Promise.all([
          store.getConversation(owner, id),
          store.contexts.get(id),
          store.slots.acquire(owner, replyId, "bench", 3),
        ]),
      );
      await time("  conversation lookup alone (KV get)", () => store.getConversation(owner, id));
      await time("  context alone (KV get)", () => store.contexts.get(id));
      await store.slots.release(slot!);
      const again = await time("  answer slot alone (publish, ack)", () =>
        store.slots.acquire(owner, replyId, "bench", 3),
      );
      await time("round 2: the user's message stored (publish, ack)", () => store.appendUserMessage(id, message));
      await time("first token from the provider SDK", async () => {
        for await (const event of provider.stream({
          model: "claude-bench",
          messages: [{ role: "user", content: "now" }],
          maxOutputTokens: 1024,
          signal: new AbortController().signal,
        }))
          if (event.type === "delta") break;
      });
      await time("one batch of events stored (publish, ack)", () =>
        store.appendEvents(id, replyId, [{ seq: 1, type: "delta", data: { text: "t " } }]),
      );
      await store.slots.release(again!);
    }
    return Object.fromEntries(Object.entries(times).map(([name, values]) => [name, round(percentile(values, 50))]));
  } finally {
    await nc.close();
  }
}
