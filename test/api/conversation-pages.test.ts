// Reading a conversation: without `limit`, the whole of it up to about 1 MiB
// (clients that never learnt paging see every message of any conversation
// but a huge one); with `limit`, that many messages of the user's with their
// answers a page. Either way at most about 1 MiB a page, and `nextCursor` to
// go on, so no conversation, however long, is read into memory whole.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";

describe("a conversation read a page at a time", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_REQUESTS: "200" } });
  });
  afterAll(() => stack?.stop());

  async function readAll(client: Awaited<ReturnType<Stack["client"]>>, id: string, limit?: number) {
    const pages: Array<{ messages: Array<{ role: string; content: string; status?: string }>; bytes: number }> = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams();
      if (limit !== undefined) query.set("limit", String(limit));
      if (cursor) query.set("cursor", cursor);
      const res = await client.request("GET", `/v1/conversations/${id}?${query}`);
      expect(res.status).toBe(200);
      pages.push({ messages: res.body.messages, bytes: Buffer.byteLength(res.text) });
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null && pages.length < 100);
    return pages;
  }

  it("pages by the user's messages, each with its answer, oldest first", async () => {
    const client = await stack.client("pager");
    const id = await client.createConversation();
    for (let i = 1; i <= 7; i++) {
      stack.llm.script({ kind: "stream", chunks: [`answer ${i}`] });
      await (
        await client.send(id, `question ${i}`)
      ).ended;
    }
    const pages = await readAll(client, id, 3);
    expect(pages.map((p) => p.messages.length)).toEqual([6, 6, 2]);
    expect(pages.flatMap((p) => p.messages.map((m) => m.content))).toEqual(
      Array.from({ length: 7 }, (_, i) => [`question ${i + 1}`, `answer ${i + 1}`]).flat(),
    );
    expect(pages.flatMap((p) => p.messages.map((m) => m.status ?? "-"))).toEqual(
      Array.from({ length: 7 }, () => ["-", "complete"]).flat(),
    );
    // Without a limit, a short conversation is one page.
    const whole = await client.request("GET", `/v1/conversations/${id}`);
    expect(whole.body.messages).toHaveLength(14);
    expect(whole.body.nextCursor).toBeNull();
  });

  it("answers a request without limit or cursor with the whole conversation, past 50 messages", async () => {
    const client = await stack.client("old-client");
    const id = await client.createConversation();
    for (let i = 1; i <= 60; i++) {
      stack.llm.script({ kind: "stream", chunks: [`answer ${i}`] });
      await (
        await client.send(id, `question ${i}`)
      ).ended;
    }
    const whole = await client.request("GET", `/v1/conversations/${id}`);
    expect(whole.status).toBe(200);
    expect(whole.body.nextCursor).toBeNull();
    expect(whole.body.messages.map((m: { content: string }) => m.content)).toEqual(
      Array.from({ length: 60 }, (_, i) => [`question ${i + 1}`, `answer ${i + 1}`]).flat(),
    );
    // A limit still pages, from where its cursor says.
    const pages = await readAll(client, id, 50);
    expect(pages.map((p) => p.messages.length)).toEqual([100, 20]);
  });

  it("ends a page at about 1 MiB of records, however many messages were asked for", async () => {
    const client = await stack.client("long-talker");
    const id = await client.createConversation();
    const big = (i: number) => `${i}:`.padEnd(30_000, "y");
    for (let i = 0; i < 40; i++) await (await client.send(id, big(i))).ended;

    // With the largest limit, and with none (the whole conversation, up to the cap).
    for (const limit of [200, undefined]) {
      const pages = await readAll(client, id, limit);
      expect(pages.length, `limit ${limit}`).toBeGreaterThan(1);
      // 1 MiB of records holds 34 or 35 of these messages, and one more may start it over.
      const first = pages[0]!;
      expect(first.messages.length / 2, `limit ${limit}`).toBeGreaterThanOrEqual(30);
      expect(first.messages.length / 2, `limit ${limit}`).toBeLessThan(40);
      expect(first.bytes, `limit ${limit}`).toBeLessThan(1024 * 1024 + 64 * 1024);
      const users = pages.flatMap((p) => p.messages.filter((m) => m.role === "user").map((m) => m.content));
      expect(users, `limit ${limit}`).toEqual(Array.from({ length: 40 }, (_, i) => big(i)));
    }
  });

  it("refuses a cursor it did not give and a limit out of range", async () => {
    const client = await stack.client("pager");
    const id = await client.createConversation();
    const badCursor = await client.request("GET", `/v1/conversations/${id}?cursor=not-ours`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.message).toMatch(/start again without it/);
    expect((await client.request("GET", `/v1/conversations/${id}?limit=0`)).status).toBe(400);
    expect((await client.request("GET", `/v1/conversations/${id}?limit=201`)).status).toBe(400);
  });
});
