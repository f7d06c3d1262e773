// Per-user storage quotas (USER_MAX_STORED_BYTES), shared by two instances
// through NATS: checked before a conversation or a message is stored, given
// back once when a conversation is deleted (however many deletes race), and
// recounted from the store before a refusal and every ten minutes, so a count
// that drifted either way heals.
import { setTimeout as sleep } from "node:timers/promises";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONVERSATION_RECORD_WEIGHT } from "../../app/src/chat/storage-quota.js";
import { counterKey } from "../../app/src/store/shared-counters.js";
import { keys } from "../../app/src/store/subjects.js";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const QUOTA = 128 * 1024;
const BIG = "x".repeat(30_000);

/** Every message a filter matches, read through an ordered consumer. */
async function messagesOf(nc: NatsConnection, stream: string, filter: string, lastPerSubject: boolean) {
  const consumer = await jetstream(nc).consumers.get(stream, {
    filter_subjects: [filter],
    deliver_policy: lastPerSubject ? DeliverPolicy.LastPerSubject : DeliverPolicy.All,
  });
  const found: Array<{ subject: string; size: number; operation: string | undefined }> = [];
  let pending = (await consumer.info(true)).num_pending;
  while (pending > 0) {
    const batch = await consumer.fetch({ max_messages: pending, expires: 2000 });
    let got = 0;
    for await (const m of batch) {
      found.push({ subject: m.subject, size: m.data.length, operation: m.headers?.get("KV-Operation") || undefined });
      pending = m.info.pending;
      got++;
    }
    if (got === 0) break;
  }
  await consumer.delete();
  return found;
}

/**
 * What a user's conversations hold, as the quota counts it, read here from
 * the streams themselves: each record (subject and payload) times its
 * weight, and the log's messages and ended answers (not events in progress).
 */
async function heldBy(nc: NatsConnection, user: string): Promise<number> {
  const records = (
    await messagesOf(nc, "KV_conversations", `$KV.conversations.${keys.conversationsOf(user)}`, true)
  ).filter((r) => !r.operation);
  let total = 0;
  for (const record of records) {
    total += CONVERSATION_RECORD_WEIGHT * (Buffer.byteLength(record.subject) + record.size);
    const id = record.subject.split(".").at(-1)!;
    for (const m of await messagesOf(nc, "CONVERSATIONS", `conv.${id}.>`, false))
      if (m.subject.split(".")[2] !== "live") total += Buffer.byteLength(m.subject) + m.size;
  }
  return total;
}

/** The user's count in the stored-bytes bucket. */
async function countedFor(nc: NatsConnection, user: string): Promise<{ bytes: number; recountedAt: number }> {
  const entry = await (await new Kvm(nc).open("stored-bytes")).get(counterKey("bytes", user));
  return entry?.operation === "PUT" ? entry.json() : { bytes: 0, recountedAt: 0 };
}

describe("per-user storage quotas across two instances", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      instances: 2,
      env: { USER_MAX_STORED_BYTES: String(QUOTA), MAX_ACTIVE_ANSWERS_PER_USER: "10" },
    });
  });
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: stack.nats.url, token: stack.nats.token });
  });
  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  async function until(check: () => Promise<boolean>, what: string) {
    for (let i = 0; i < 100; i++) {
      if (await check()) return;
      await sleep(50);
    }
    throw new Error(`still not ${what} after 5 s`);
  }

  async function clients(user: string): Promise<[ChatClient, ChatClient]> {
    const token = await tokenFor(user);
    return [new ChatClient(stack.apis[0]!.url, token), new ChatClient(stack.apis[1]!.url, token)];
  }

  /** Creates conversations, alternating instances, until one is refused; returns the ids and the refusal. */
  async function fillWithConversations(pair: [ChatClient, ChatClient]) {
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await pair[i % 2]!.request("POST", "/v1/conversations", {});
      if (res.status !== 201) return { ids, refusal: res };
      ids.push(res.body.id as string);
    }
    throw new Error("100 conversations fit in the quota");
  }

  it("refuses a user's conversation past the quota with 507, while others still create theirs", async () => {
    const hog = await clients("hog");
    const { ids, refusal } = await fillWithConversations(hog);
    // A record weighs 32 times its size (its bucket is 1/32 of the store): a few kB each.
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.length).toBeLessThan(40);
    expect(refusal.status).toBe(507);
    expect(refusal.body.error.code).toBe("storage_quota_exceeded");
    expect(refusal.body.error.message).toMatch(
      /of your 128 KB storage quota; nothing was stored\. Delete conversations/,
    );
    expect(refusal.headers["retry-after"]).toBeUndefined();
    // Nothing was stored for the refused one.
    const listed = await hog[1].request("GET", "/v1/conversations?limit=200");
    expect(listed.body.conversations).toHaveLength(ids.length);

    const [other] = await clients("bystander");
    expect((await other.request("POST", "/v1/conversations", {})).status).toBe(201);

    // A delete (on the other instance) gives the bytes back.
    expect((await hog[1].request("DELETE", `/v1/conversations/${ids[0]}`)).status).toBe(204);
    expect((await hog[0].request("POST", "/v1/conversations", {})).status).toBe(201);
    expect((await hog[1].request("POST", "/v1/conversations", {})).status).toBe(507);
  });

  it("refuses a message past the quota before storing it or calling the model, and counts answers", async () => {
    const [a, b] = await clients("writer");
    const id = await a.createConversation();
    const calls = stack.llm.requests.length;
    const statuses: number[] = [];
    let refused;
    for (let i = 0; i < 10; i++) {
      const stream = await (i % 2 === 0 ? a : b).send(id, BIG);
      statuses.push(stream.status);
      if (stream.status !== 200) {
        refused = JSON.parse(stream.raw.join("")) as { error: { code: string; message: string } };
        break;
      }
      await stream.ended;
    }
    // 128 KB holds four of these messages (30 kB each, with their answers and the record).
    expect(statuses).toEqual([200, 200, 200, 200, 507]);
    expect(refused!.error.code).toBe("storage_quota_exceeded");
    expect(stack.llm.requests.length - calls).toBe(4);
    const conversation = await b.conversation(id);
    expect(conversation.messages.filter((m) => m.role === "user")).toHaveLength(4);

    // Deleting the conversation frees it all.
    expect((await b.request("DELETE", `/v1/conversations/${id}`)).status).toBe(204);
    const fresh = await a.createConversation();
    const stream = await b.send(fresh, BIG);
    expect(stream.status).toBe(200);
    await stream.ended;
  });

  it("recounts what the store holds before refusing, so a count that drifted heals", async () => {
    const [a] = await clients("drifted");
    const id = await a.createConversation();
    // As if writes had been counted that never landed (or had expired).
    const nc = await connect({ servers: stack.nats.url, token: stack.nats.token });
    try {
      const kv = await new Kvm(nc).open("stored-bytes");
      await kv.put(counterKey("bytes", "drifted"), JSON.stringify({ bytes: 10 * QUOTA, recountedAt: 0 }));
    } finally {
      await nc.close();
    }
    const recountsOf = () =>
      stack.apis[0]!.logs().filter((l) => l.msg === "recounted a user's stored bytes before refusing");
    const before = recountsOf().length;
    const stream = await a.send(id, "still room?");
    expect(stream.status).toBe(200);
    await stream.ended;
    // The log line comes through another pipe than the answer: wait for it.
    for (let i = 0; i < 100 && recountsOf().length === before; i++) await sleep(50);
    const recounts = recountsOf().slice(before);
    expect(recounts).toHaveLength(1);
    expect(recounts[0]!.counted).toBe(10 * QUOTA);
    // What one empty conversation holds: its record, weighted.
    expect(recounts[0]!.held).toBeGreaterThan(2_000);
    expect(recounts[0]!.held).toBeLessThan(QUOTA / 4);
  });

  it("gives a conversation's bytes back once when deletes of it race on both instances", async () => {
    const pair = await clients("racer");
    const kept = await pair[0].createConversation();
    await (
      await pair[0].send(kept, "x".repeat(5_000))
    ).ended;
    for (let round = 1; round <= 3; round++) {
      const id = await pair[1].createConversation();
      await (
        await pair[1].send(id, BIG)
      ).ended;
      // Nothing of the answer is left to count: its bytes are in.
      await until(async () => (await countedFor(nc, "racer")).bytes === (await heldBy(nc, "racer")), "counted");
      const deletes = await Promise.all(
        Array.from({ length: 4 }, (_, i) => pair[i % 2]!.request("DELETE", `/v1/conversations/${id}`)),
      );
      const statuses = deletes.map((d) => d.status);
      expect(statuses, `round ${round}`).toContain(204);
      for (const status of statuses) expect([204, 404], `round ${round}`).toContain(status);
      expect((await pair[0].request("GET", `/v1/conversations/${id}`)).status).toBe(404);
      // Exactly what the user still holds: the kept conversation, no less.
      const held = await heldBy(nc, "racer");
      expect(held).toBeGreaterThan(5_000);
      expect((await countedFor(nc, "racer")).bytes, `round ${round}`).toBe(held);
    }
  });

  it("recounts on an allowed charge too once ten minutes have passed, so a count too low heals", async () => {
    const [a, b] = await clients("undercounted");
    const id = await a.createConversation();
    await (
      await a.send(id, BIG)
    ).ended;
    const held = await heldBy(nc, "undercounted");
    expect(held).toBeGreaterThan(30_000);
    // As if a delete had given back more than it took (last recounted 11 minutes ago).
    const kv = await new Kvm(nc).open("stored-bytes");
    await kv.put(
      counterKey("bytes", "undercounted"),
      JSON.stringify({ bytes: 0, recountedAt: Date.now() - 11 * 60_000 }),
    );
    const stream = await b.send(id, "still counted?");
    expect(stream.status).toBe(200);
    await stream.ended;
    await until(
      async () => (await countedFor(nc, "undercounted")).bytes === (await heldBy(nc, "undercounted")),
      "healed",
    );
    expect((await countedFor(nc, "undercounted")).recountedAt).toBeGreaterThan(Date.now() - 60_000);
    // Once recounted, not again for ten minutes: a count set by hand now stays.
    await kv.put(counterKey("bytes", "undercounted"), JSON.stringify({ bytes: 7, recountedAt: Date.now() }));
    await (
      await a.send(id, "again")
    ).ended;
    expect((await countedFor(nc, "undercounted")).bytes).toBeLessThan(held / 2);
  });
});
