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
    const store = await ChatStore.open(nc, { replicas: 1, leaseTtlMs: 30_000 });
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
      const earlier = randomUUID();
      await store.appendUserMessage(id, {
        kind: "user",
        id: randomUUID(),
        replyId: earlier,
        content: "earlier",
        model: "m",
        provider: "anthropic",
        createdAt: new Date().toISOString(),
      });
      for (let seq = 1; seq <= 20; seq++)
        await store.appendEvent(id, earlier, { seq, type: "delta", data: { text: "x " } });

      const replyId = randomUUID();
      await time("conversation lookup (KV get)", () => store.getConversation(owner, id));
      await time("history read (a consumer over the log)", () => store.readLog(id));
      await time("lease (KV put)", () => store.holdLease(replyId, "bench"));
      await time("user message stored (publish, ack)", () =>
        store.appendUserMessage(id, {
          kind: "user",
          id: randomUUID(),
          replyId,
          content: "now",
          model: "m",
          provider: "anthropic",
          createdAt: new Date().toISOString(),
        }),
      );
      await time("lease again, at generation start (KV put)", () => store.holdLease(replyId, "bench"));
      await time("first token from the provider SDK", async () => {
        for await (const event of provider.stream({
          model: "claude-bench",
          messages: [{ role: "user", content: "now" }],
          maxOutputTokens: 1024,
          signal: new AbortController().signal,
        }))
          if (event.type === "delta") break;
      });
      await time("one token stored (publish, ack)", () =>
        store.appendEvent(id, replyId, { seq: 1, type: "delta", data: { text: "t " } }),
      );
    }
    return Object.fromEntries(Object.entries(times).map(([name, values]) => [name, round(percentile(values, 50))]));
  } finally {
    await nc.close();
  }
}
