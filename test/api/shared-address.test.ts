// Many users behind one address (an office, a carrier's NAT): the address's
// limit (RATE_LIMIT_IP_REQUESTS, ten times the user's by default) is apart
// from and larger than each user's (RATE_LIMIT_REQUESTS), so one user who
// spends their own limit does not get everyone behind the address refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

const USER_LIMIT = 3;
const NAT = "203.0.113.50";

describe("users behind one shared address", () => {
  let stack: Stack;
  let caddy: RunningCaddy;
  beforeAll(async () => {
    // RATE_LIMIT_IP_REQUESTS left to its default: 10 x 3 = 30.
    stack = await startStack({
      instances: 2,
      env: { RATE_LIMIT_REQUESTS: String(USER_LIMIT), RATE_LIMIT_WINDOW: "1m", TRUSTED_PROXIES: "127.0.0.1" },
    });
    caddy = await startCaddy({ upstreams: stack.apis.map((a) => `127.0.0.1:${a.port}`) });
  });
  afterAll(async () => {
    await caddy?.stop();
    await stack?.stop();
  });

  /** A request from `user` behind the NAT, as the trusted proxy (127.0.0.1) forwards it, on instance `i % 2`. */
  async function behindNat(user: string, i: number, address = NAT) {
    return requestJson("GET", `${stack.apis[i % 2]!.url}/v1/conversations`, undefined, {
      headers: { authorization: `Bearer ${await tokenFor(user)}`, "x-forwarded-for": address },
    });
  }

  it("refuses the user who spent their limit, and serves the others behind the same address", async () => {
    const abuser: number[] = [];
    for (let i = 0; i < USER_LIMIT + 3; i++) abuser.push((await behindNat("abuser", i)).status);
    expect(abuser).toEqual([200, 200, 200, 429, 429, 429]);

    const refused = await behindNat("abuser", 0);
    expect(refused.body.error.message).toMatch(/from this user/);
    // The user's limit is the one reported: it is the closer to refusing.
    expect(refused.headers["ratelimit-limit"]).toBe(String(USER_LIMIT));

    for (const neighbour of ["colleague-1", "colleague-2", "colleague-3"]) {
      const statuses: number[] = [];
      for (let i = 0; i < USER_LIMIT; i++) statuses.push((await behindNat(neighbour, i)).status);
      expect(statuses, neighbour).toEqual([200, 200, 200]);
    }
  });

  it("still limits the address as a whole, at ten users' worth", async () => {
    const address = "198.51.100.60";
    const statuses: number[] = [];
    // Each request from a user never seen: only the address's limit can refuse.
    for (let i = 0; i < 32; i++) statuses.push((await behindNat(`crowd-${i}`, i, address)).status);
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(200));
    expect(statuses.slice(30)).toEqual([429, 429]);
    const refused = await behindNat("crowd-late", 0, address);
    expect(refused.body.error.message).toMatch(/from this address/);
    expect(refused.headers["ratelimit-policy"]).toBe("30;w=60");
  });

  it("does the same through Caddy, which sets the client's address", async () => {
    const viaCaddy = async (user: string) =>
      requestJson("GET", `https://localhost:${caddy.httpsPort}/v1/conversations`, undefined, {
        ca: caddy.ca(),
        localAddress: "127.0.0.70",
        headers: { authorization: `Bearer ${await tokenFor(user)}` },
      });
    const statuses: number[] = [];
    for (let i = 0; i < USER_LIMIT + 1; i++) statuses.push((await viaCaddy("caddy-abuser")).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect((await viaCaddy("caddy-neighbour")).status).toBe(200);
  });
});
