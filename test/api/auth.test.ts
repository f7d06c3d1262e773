// Bearer JWT auth (HS256 only) and per-user ownership of conversations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor, type TokenOptions } from "../../scripts/loopback/tokens.js";
import { unsignedToken } from "../harness/forged-token.js";
import { jwtKeyId } from "../../app/src/auth/jwt-keys.js";
import { signToken } from "../../scripts/ops/sign-token.js";

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
    ["a token that never expires", () => tokenFor("mallory", { expiresIn: null })],
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

  it("says a token without `exp` is refused because tokens must expire", async () => {
    const token = await tokenFor("mallory", { expiresIn: null });
    const res = await requestJson("GET", `${stack.apis[0]!.url}/v1/conversations`, undefined, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/`exp` claim/);
    expect(res.body.error.message).toMatch(/tokens must expire/);
  });

  it.each(["bearer", "BEARER", "bEaReR"])("takes the scheme name in any case (%s), per RFC 7235", async (scheme) => {
    const res = await requestJson("GET", `${stack.apis[0]!.url}/v1/conversations`, undefined, {
      headers: { authorization: `${scheme} ${await tokenFor("casey")}` },
    });
    expect(res.status).toBe(200);
  });

  it("checks no `iss` or `aud` when JWT_ISSUER and JWT_AUDIENCE are unset", async () => {
    const token = await tokenFor("ursula", { issuer: "someone", audience: "something" });
    const res = await requestJson("GET", `${stack.apis[0]!.url}/v1/conversations`, undefined, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
  });

  describe("with JWT_ISSUER and JWT_AUDIENCE", () => {
    const issuer = "https://login.example.test/";
    const audience = "chat-api";
    let url: string;
    beforeAll(async () => {
      url = (await stack.startInstance({ JWT_ISSUER: issuer, JWT_AUDIENCE: audience })).url;
    });
    const get = async (options: TokenOptions) =>
      requestJson("GET", `${url}/v1/conversations`, undefined, {
        headers: { authorization: `Bearer ${await tokenFor("ingrid", options)}` },
      });

    it("accepts a token for that issuer and audience (aud alone or among others)", async () => {
      expect((await get({ issuer, audience })).status).toBe(200);
      expect((await get({ issuer, audience: ["another-api", audience] })).status).toBe(200);
    });

    it.each<[string, TokenOptions, RegExp]>([
      ["no `iss`", { audience }, /no `iss` claim/],
      ["another issuer", { issuer: "https://elsewhere.test/", audience }, /`iss` claim is not the issuer/],
      ["no `aud`", { issuer }, /no `aud` claim/],
      ["another audience", { issuer, audience: "another-api" }, /`aud` claim is not the audience/],
    ])("refuses a token with %s, naming the claim", async (_name, options, message) => {
      const res = await get(options);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
      expect(res.body.error.message).toMatch(message);
    });
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

// Keys by id, with the overlap of a rotation, and the longest a token may live.
describe("JWT keys and lifetimes", () => {
  const OLD = "the-old-secret-of-this-test-0123456789abcdef";
  const NEW = "the-new-secret-of-this-test-0123456789abcdef";
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { JWT_SECRET: OLD } });
  });
  afterAll(() => stack?.stop());

  const status = async (url: string, token: string) =>
    requestJson("GET", `${url}/v1/conversations`, undefined, { headers: { authorization: `Bearer ${token}` } });

  it("accepts tokens of the previous key during the overlap, by `kid` or without one, and of the new key", async () => {
    const rotated = await stack.startInstance({
      JWT_SECRET: NEW,
      JWT_PREVIOUS_SECRET: OLD,
      JWT_PREVIOUS_SECRET_UNTIL: new Date(Date.now() + 3600_000).toISOString(),
    });
    for (const token of [
      await tokenFor("ulla", { secret: OLD }),
      await tokenFor("ulla", { secret: OLD, kid: jwtKeyId(OLD) }),
      await tokenFor("ulla", { secret: NEW }),
      await tokenFor("ulla", { secret: NEW, kid: jwtKeyId(NEW) }),
      await signToken(NEW, { subject: "ulla", ttl: "1h" }),
    ])
      expect((await status(rotated.url, token)).status).toBe(200);
    // A token that names one key is checked against that key only.
    const crossed = await status(rotated.url, await tokenFor("ulla", { secret: OLD, kid: jwtKeyId(NEW) }));
    expect(crossed.status).toBe(401);
    const unknown = await status(rotated.url, await tokenFor("ulla", { secret: OLD, kid: "k-somebody-else" }));
    expect(unknown.body.error.message).toMatch(/`kid` names a key this API does not know/);
  });

  it("refuses the previous key's tokens once its overlap is over, or once it is removed", async () => {
    const oldToken = await tokenFor("vera", { secret: OLD, kid: jwtKeyId(OLD) });
    const retired = await stack.startInstance({
      JWT_SECRET: NEW,
      JWT_PREVIOUS_SECRET: OLD,
      JWT_PREVIOUS_SECRET_UNTIL: new Date(Date.now() - 1000).toISOString(),
    });
    const res = await status(retired.url, oldToken);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(new RegExp(`key \\(\`kid\` ${jwtKeyId(OLD)}\\) was retired`));
    expect((await status(retired.url, await tokenFor("vera", { secret: OLD }))).status).toBe(401);
    const removed = await stack.startInstance({ JWT_SECRET: NEW });
    expect((await status(removed.url, oldToken)).status).toBe(401);
    expect((await status(removed.url, await tokenFor("vera", { secret: NEW }))).status).toBe(200);
  });

  it.each<[string, Parameters<typeof tokenFor>[1], RegExp]>([
    [
      "`exp` in the year 9999",
      { expiresIn: Date.UTC(9999, 0, 1) / 1000 },
      /`exp` is centuries after its `iat`, longer than this API's maximum token lifetime, JWT_MAX_LIFETIME \(1 day\)/,
    ],
    ["a lifetime of 25 hours", { expiresIn: "25h" }, /`exp` is 1 day after its `iat`.*JWT_MAX_LIFETIME \(1 day\)/],
    [
      "no `iat` and `exp` in 2 days",
      { expiresIn: "2d", issuedAt: null },
      /`exp` is 2 days from now, further than this API's maximum token lifetime, JWT_MAX_LIFETIME \(1 day\)/,
    ],
  ])("refuses a token with %s, naming the claim and the limit", async (_name, options, message) => {
    const res = await status(stack.apis[0]!.url, await tokenFor("wanda", { secret: OLD, ...options }));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(message);
  });

  it("accepts a token that lives just under the maximum, and follows JWT_MAX_LIFETIME", async () => {
    expect((await status(stack.apis[0]!.url, await tokenFor("xena", { secret: OLD, expiresIn: "23h" }))).status).toBe(
      200,
    );
    const strict = await stack.startInstance({ JWT_MAX_LIFETIME: "1h" });
    const twoHours = await status(strict.url, await tokenFor("xena", { secret: OLD, expiresIn: "2h" }));
    expect(twoHours.body.error.message).toMatch(/JWT_MAX_LIFETIME \(1 hour\)/);
    expect((await status(strict.url, await tokenFor("xena", { secret: OLD, expiresIn: "50m" }))).status).toBe(200);
  });
});
