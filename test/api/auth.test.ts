// Bearer JWT auth (HS256 only) and per-user ownership of conversations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatClient } from "../harness/chat-client.js";
import { requestJson } from "../harness/http-client.js";
import { startStack, type Stack } from "../harness/stack.js";
import { tokenFor, unsignedToken } from "../harness/tokens.js";

describe("authentication", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  const cases: Array<[string, () => Promise<string | undefined>]> = [
    ["no token", async () => undefined],
    ["an expired token", () => tokenFor("mallory", { expiresIn: Math.floor(Date.now() / 1000) - 60 })],
    ["a token not valid yet", () => tokenFor("mallory", { notBefore: Math.floor(Date.now() / 1000) + 600 })],
    [
      "a token signed with another secret",
      () => tokenFor("mallory", { secret: "another-secret-that-is-also-long-enough-xx" }),
    ],
    ["an alg:none token", async () => unsignedToken("mallory")],
    ["a malformed token", async () => "not.a.jwt"],
  ];
  it.each(cases)("refuses %s with 401", async (_name, make) => {
    const token = await make();
    const res = await requestJson("GET", `${stack.apis[0]!.url}/v1/conversations`, undefined, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthorized");
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  it("lets nobody else see, stream, resume or delete a conversation (404, as if it did not exist)", async () => {
    const owner = await stack.client("olivia");
    const other = await stack.client("oscar");
    const id = await owner.createConversation("private");
    const stream = await owner.send(id, "secret plans");
    await stream.ended;
    const messageId = stream.headers["x-message-id"] as string;

    expect((await other.request("GET", `/v1/conversations/${id}`)).status).toBe(404);
    expect((await other.request("POST", `/v1/conversations/${id}/messages`, { content: "hi" })).status).toBe(404);
    expect((await other.request("GET", `/v1/conversations/${id}/messages/${messageId}/stream`)).status).toBe(404);
    expect((await other.request("DELETE", `/v1/conversations/${id}`)).status).toBe(404);
    expect((await other.request("GET", "/v1/conversations")).body.conversations).toEqual([]);
    // Still there for its owner.
    expect((await owner.conversation(id)).messages).toHaveLength(2);
  });

  it("keeps users apart even when their ids look like NATS wildcards", async () => {
    const star = new ChatClient(stack.apis[0]!.url, await tokenFor("*"));
    const gt = new ChatClient(stack.apis[0]!.url, await tokenFor(">"));
    const id = await star.createConversation();
    expect((await gt.request("GET", "/v1/conversations")).body.conversations).toEqual([]);
    expect((await gt.request("GET", `/v1/conversations/${id}`)).status).toBe(404);
  });
});
