// An upgrade keeps every conversation readable: a store written by the
// earlier release (test/fixtures/store-v1, see its generate.ts) is restored
// from its backup into a fresh NATS, and the current bundle must answer about
// it as that release did. New fields may appear; no old one may change.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreBackup } from "../harness/backups.js";
import { startApi, type RunningApi } from "../../scripts/loopback/api.js";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { startFakeAnthropic, type FakeLlm } from "../../scripts/loopback/fake-llm.js";
import type { SseStream } from "../../scripts/loopback/http-client.js";
import { startNats, type NatsDeployment } from "../../scripts/loopback/nats.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import type { Expected, ExpectedUser } from "../fixtures/store-v1/generate.js";

const FIXTURE = join(import.meta.dirname, "../fixtures/store-v1");
const expected = JSON.parse(readFileSync(join(FIXTURE, "expected.json"), "utf8")) as Expected;

describe(`a store written by the earlier release (${expected.writtenBy}), after the upgrade`, () => {
  let nats: NatsDeployment;
  let llm: FakeLlm;
  let api: RunningApi;

  beforeAll(async () => {
    nats = await startNats();
    // Restored before the API first starts, as an upgrade from a backup would be.
    const nc = await connect({ servers: nats.url, token: nats.token });
    try {
      // The settings the API below starts with (scripts/loopback/api.ts): a fresh server has no stream of its to read them from.
      await restoreBackup(nc, FIXTURE, {
        replaceLive: false,
        log: () => undefined,
        storage: { replicas: 1, leaseTtlMs: 15_000, retentionMs: 0, maxBytes: 256 * 1024 * 1024 },
      });
    } finally {
      await nc.close();
    }
    llm = await startFakeAnthropic();
    api = await startApi({
      ...expected.env,
      NATS_URL: nats.url,
      NATS_TOKEN: nats.token,
      ANTHROPIC_API_KEY: llm.apiKey,
      ANTHROPIC_BASE_URL: llm.url,
    });
  });
  afterAll(async () => {
    await api?.stop();
    await llm?.close();
    await nats?.stop();
  });

  const clientOf = async (user: ExpectedUser) => new ChatClient(api.url, await tokenFor(user.sub, { expiresIn: "1h" }));

  describe.each(expected.users.map((user) => [user.sub, user] as const))("for %s", (_, user) => {
    it("lists the conversations the earlier release listed, in its order", async () => {
      const client = await clientOf(user);
      const res = await client.request("GET", "/v1/conversations");
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject(user.list);
    });

    it("returns each conversation's history as the earlier release did", async () => {
      const client = await clientOf(user);
      for (const [id, conversation] of Object.entries(user.conversations)) {
        const res = await client.request("GET", `/v1/conversations/${id}`);
        expect(res.status, id).toBe(200);
        expect(res.body, id).toMatchObject(conversation);
      }
    });

    it("compacts the old answers it read: one record each, their single events gone, the history unchanged", async () => {
      const client = await clientOf(user);
      const nc = await connect({ servers: nats.url, token: nats.token });
      try {
        const jsm = await jetstreamManager(nc);
        for (const [id, conversation] of Object.entries(user.conversations)) {
          const answers = conversation.messages.filter((m) => m.role === "assistant").length;
          const info = await jsm.streams.info("CONVERSATIONS", { subjects_filter: `conv.${id}.>` });
          const kinds = Object.keys(info.state.subjects ?? {}).map((subject) => subject.split(".")[2]);
          expect(
            kinds.filter((k) => k === "evt"),
            id,
          ).toEqual([]);
          expect(kinds.filter((k) => k === "ans").length, id).toBe(answers);
          // Read again, from the compacted records.
          expect((await client.request("GET", `/v1/conversations/${id}`)).body, id).toMatchObject(conversation);
        }
      } finally {
        await nc.close();
      }
    });

    it("replays every stored answer through the resume endpoint with the same events", async () => {
      const client = await clientOf(user);
      for (const replay of user.replays) {
        const stream = await client.resume(replay.conversationId, replay.messageId);
        await stream.ended;
        expect(stream.status, replay.messageId).toBe(200);
        expect(eventsOf(stream), replay.messageId).toMatchObject(replay.events);
      }
      // From the middle, after the last id a client saw.
      const longest = user.replays.reduce((a, b) => (b.events.length > a.events.length ? b : a));
      const middle = Math.floor(longest.events.length / 2);
      const tail = await client.resume(longest.conversationId, longest.messageId, longest.events[middle]!.id);
      await tail.ended;
      expect(eventsOf(tail)).toMatchObject(longest.events.slice(middle + 1));
    });

    it("keeps deleted conversations deleted, and each user's conversations their own", async () => {
      const client = await clientOf(user);
      for (const id of user.deleted) {
        expect((await client.request("GET", `/v1/conversations/${id}`)).status, id).toBe(404);
      }
      for (const other of expected.users.filter((u) => u !== user)) {
        for (const id of Object.keys(other.conversations)) {
          expect((await client.request("GET", `/v1/conversations/${id}`)).status, id).toBe(404);
          expect((await client.request("DELETE", `/v1/conversations/${id}`)).status, id).toBe(404);
        }
      }
    });

    it("answers a new message in an old conversation with the old turns as context", async () => {
      const client = await clientOf(user);
      const old = user.conversations[user.continueIn]!;
      llm.script({ kind: "stream", chunks: ["Still", " here", " after", " the upgrade."] });
      const requestsBefore = llm.requests.length;
      const stream = await client.send(old.id, "Do you remember what we said?");
      await stream.ended;
      expect(stream.status).toBe(200);
      expect(stream.events.at(-1)).toMatchObject({ event: "done" });

      expect(llm.requests).toHaveLength(requestsBefore + 1);
      const sent = llm.requests.at(-1)!.body.messages as Array<{ role: string; content: unknown }>;
      expect(sent.map((turn) => ({ role: turn.role, content: plainText(turn.content) }))).toEqual([
        ...old.messages.map((m) => ({ role: m.role, content: m.content })),
        { role: "user", content: "Do you remember what we said?" },
      ]);

      const after = await client.conversation(old.id);
      expect(after.messages.slice(0, old.messages.length)).toMatchObject(old.messages);
      expect(after.messages.slice(old.messages.length)).toMatchObject([
        { role: "user", content: "Do you remember what we said?" },
        { role: "assistant", content: "Still here after the upgrade.", status: "complete" },
      ]);
    });

    it("deletes an old conversation, and only that one", async () => {
      const client = await clientOf(user);
      // One with answers in it, so their stored events go too.
      const victim = Object.values(user.conversations).find((c) => c.id !== user.continueIn && c.messages.length > 0)!;
      expect((await client.request("DELETE", `/v1/conversations/${victim.id}`)).status).toBe(204);
      expect((await client.request("GET", `/v1/conversations/${victim.id}`)).status).toBe(404);
      const answer = victim.messages.find((m) => m.role === "assistant")!;
      expect((await client.resume(victim.id, answer.id)).status).toBe(404);
      const listed = (await client.request("GET", "/v1/conversations")).body.conversations as Array<{ id: string }>;
      // The same set: the list is ordered by last activity, and the test
      // above sent a message in one of them.
      expect(listed.map((c) => c.id).sort()).toEqual(
        user.list.conversations
          .filter((c) => c.id !== victim.id)
          .map((c) => c.id)
          .sort(),
      );
    });
  });
});

function eventsOf(stream: SseStream) {
  return stream.events.map(({ id, event, data }) => ({ id, event, data }));
}

/** A turn's text, whether sent as a string or as Anthropic's text blocks. */
function plainText(content: unknown): unknown {
  if (!Array.isArray(content)) return content;
  return content.map((block: { type?: string; text?: string }) => (block.type === "text" ? block.text : "")).join("");
}
