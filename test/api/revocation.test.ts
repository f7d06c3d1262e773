// `npm run ops -- revoke USER`: every token of that user issued up to then is
// refused by every instance, through the NATS KV bucket they all watch,
// written with the ops user's own login as the command does.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { revokeUser } from "../../app/src/store/revocations.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

describe("revoking a user's tokens", () => {
  let stack: Stack;
  let ops: NatsConnection;
  beforeAll(async () => {
    stack = await startStack({ instances: 2, natsAuth: "users" });
    ops = await connect({
      servers: stack.nats.url,
      user: stack.nats.users!.ops.user,
      pass: stack.nats.users!.ops.password,
    });
  });
  afterAll(async () => {
    await ops?.close();
    await stack?.stop();
  });

  const status = async (url: string, token: string) =>
    (await requestJson("GET", `${url}/v1/conversations`, undefined, { headers: { authorization: `Bearer ${token}` } }))
      .status;
  const everywhere = (token: string) => Promise.all(stack.apis.map((api) => status(api.url, token)));

  it("refuses the user's earlier tokens on every instance within a second, cached or not, and no one else's", async () => {
    const [used, unused, noIat, other] = [
      await tokenFor("rita"),
      await tokenFor("rita", { expiresIn: "2h" }),
      await tokenFor("rita", { issuedAt: null }),
      await tokenFor("sam"),
    ];
    // Verified and cached on both instances before the revocation.
    expect(await everywhere(used)).toEqual([200, 200]);
    const started = Date.now();
    const upTo = await revokeUser(ops, "rita");
    await expect.poll(() => everywhere(used), { timeout: 5000, interval: 50 }).toEqual([401, 401]);
    const took = Date.now() - started;
    console.log(`revocation refused on both instances after ${took} ms`);
    expect(took).toBeLessThan(5000);
    expect(await everywhere(unused)).toEqual([401, 401]);
    // Without `iat` a token cannot show it came later.
    expect(await everywhere(noIat)).toEqual([401, 401]);
    expect(await everywhere(other)).toEqual([200, 200]);
    const res = await requestJson("GET", `${stack.apis[1]!.url}/v1/conversations`, undefined, {
      headers: { authorization: `Bearer ${used}` },
    });
    expect(res.body.error.message).toMatch(
      new RegExp(`revoked: this user's tokens issued up to ${new Date(upTo * 1000).toISOString()} are refused`),
    );
    // A token issued after the revocation works.
    const fresh = await tokenFor("rita", { issuedAt: upTo + 1 });
    expect(await everywhere(fresh)).toEqual([200, 200]);
  });

  it("is known to an instance that starts after it", async () => {
    await revokeUser(ops, "tom");
    const late = await stack.startInstance();
    expect(await status(late.url, await tokenFor("tom", { issuedAt: Math.floor(Date.now() / 1000) - 60 }))).toBe(401);
    expect(await status(late.url, await tokenFor("ulrich"))).toBe(200);
  });

  it("cannot be undone or written by the API's own NATS user", async () => {
    const api = await connect({
      servers: stack.nats.url,
      user: stack.nats.users!.api.user,
      pass: stack.nats.users!.api.password,
      inboxPrefix: "_INBOX_api",
    });
    try {
      await expect(revokeUser(api, "victor")).rejects.toThrow(/permission|timeout|503/i);
    } finally {
      await api.close();
    }
  });
});
