// Destroying and changing on the real API's schedule (issue 19, points 1 and
// 2): a reserved IP stays attached for a while after its instance's DELETE
// answered and cannot be deleted until then; an instance is locked for a
// while after its create and its resize, and Vultr answers its DELETE and
// PATCH with HTTP 500 then. The fake does both; the providers wait them out,
// within a bound, and then say what to do.
//
// The fake's clock is driven by the requests it sees, so no test depends on
// how fast this machine is: a lock or an attachment holds until the provider
// has tried more times than the client's own retries (4 attempts) would.
import { afterEach, describe, expect, it } from "vitest";
import { VultrClient } from "../../infra/vultr/client.js";
import { backoffDelay, retryWhile } from "../../infra/vultr/wait.js";
import { SERVER_LOCKED, UNABLE_TO_DETACH, type FakeVultr } from "../harness/fake-vultr.js";
import { closeFakeVultrs, instanceInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

const LOCK_MS = 300;
const REFUSALS = 6;

/**
 * A clock for the fake that stands still until the fake (set in `of.fake`
 * once started) has seen more than `count` requests `method path`, then jumps.
 */
function clockAfter(of: { fake?: FakeVultr }, method: string, path: RegExp, count: number): () => number {
  return () => ((of.fake?.requestsTo(method, path).length ?? 0) > count ? 1_000_000 : 0);
}

describe("backoff", () => {
  it("doubles from the first wait up to the cap", () => {
    const backoff = { firstDelayMs: 5000, maxDelayMs: 30_000 };
    expect([1, 2, 3, 4, 5, 40].map((attempt) => backoffDelay(attempt, backoff))).toEqual([
      5000, 10_000, 20_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("retries only what is worth waiting for, and gives up with its own error when the time is up", async () => {
    let calls = 0;
    const failThrice = () => (++calls <= 3 ? Promise.reject(new Error(`try ${calls}`)) : Promise.resolve("done"));
    const giveUp = (last: unknown) => new Error(`gave up after ${(last as Error).message}`);
    const backoff = { firstDelayMs: 1, maxDelayMs: 4, timeoutMs: 60_000 };
    expect(await messageOf(retryWhile(failThrice, () => false, backoff, giveUp))).toBe("try 1");
    calls = 0;
    expect(await retryWhile(failThrice, () => true, backoff, giveUp)).toBe("done");
    expect(calls).toBe(4);
    calls = 0;
    const noTime = { ...backoff, timeoutMs: 0 };
    expect(await messageOf(retryWhile(failThrice, () => true, noTime, giveUp))).toBe("gave up after try 1");
  });
});

describe("a reserved IP with its instance", () => {
  async function attached(releaseMs: number, settings = {}) {
    const of: { fake?: FakeVultr } = {};
    const clock = clockAfter(of, "DELETE", /^\/v2\/reserved-ips\//, REFUSALS);
    const env = await startProviders({ reservedIpv4: "127.0.0.2", reservedIpReleaseMs: releaseMs, clock }, settings);
    of.fake = env.fake;
    const reserved = await env.providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ipv4" });
    const instance = await env.providers.Instance.create(instanceInputs({ reservedIpId: reserved.id }));
    return { ...env, reserved, instance };
  }

  it("cannot be deleted while attached, and is let go some time after the instance's DELETE", async () => {
    let now = 1_000_000; // the fake's clock, moved by hand
    const env = await startProviders({ reservedIpv4: "127.0.0.2", reservedIpReleaseMs: 150, clock: () => now });
    const { fake } = env;
    const reserved = await env.providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ipv4" });
    const instance = await env.providers.Instance.create(instanceInputs({ reservedIpId: reserved.id }));
    const client = new VultrClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 0 });
    const refused = await client.delete(`/v2/reserved-ips/${reserved.id}`).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, vultrMessage: UNABLE_TO_DETACH });

    await client.delete(`/v2/instances/${instance.id}`);
    const read = () => client.get<{ reserved_ip: { instance_id: string } }>(`/v2/reserved-ips/${reserved.id}`);
    now += 149;
    expect((await read()).reserved_ip.instance_id).toBe(instance.id);
    expect(await client.delete(`/v2/reserved-ips/${reserved.id}`).catch((e: unknown) => e)).toMatchObject({
      status: 400,
    });
    now += 1;
    expect((await read()).reserved_ip.instance_id).toBe("");
    await client.delete(`/v2/reserved-ips/${reserved.id}`);
    expect(fake.state.reservedIps.size).toBe(0);
  });

  it("is deleted after its instance in destroy's order, waiting for Vultr to let it go", async () => {
    const { fake, providers, reserved, instance } = await attached(150);
    await providers.Instance.delete(instance.id, instance.outs);
    await providers.ReservedIp.delete(reserved.id, reserved.outs);

    const statuses = fake.requestsTo("DELETE", `/v2/reserved-ips/${reserved.id}`).map((r) => r.status);
    expect(statuses).toEqual([...Array<number>(REFUSALS).fill(400), 204]);
    expect(fake.state.reservedIps.size).toBe(0);
    expect(fake.state.instances.size).toBe(0);
  });

  it("stops waiting at the bound, naming the instance that holds it and the ways out", async () => {
    const { fake, providers, reserved, instance } = await attached(0, { reservedIpReleaseTimeoutMs: 60 });
    const message = await messageOf(providers.ReservedIp.delete(reserved.id, reserved.outs));
    expect(message).toContain(`Reserved IP 127.0.0.2 (${reserved.id}) is still attached to instance ${instance.id}`);
    expect(message).toContain("after 60 ms");
    expect(message).toContain("delete or replace it first, or detach the address in the Vultr console");
    expect(message).toContain(UNABLE_TO_DETACH);
    const tries = fake.requestsTo("DELETE", `/v2/reserved-ips/${reserved.id}`).length;
    expect(tries).toBeLessThan(12); // 5, 10, 20, 20 ms apart: waited, did not hammer
    expect(fake.state.reservedIps.has(reserved.id)).toBe(true);
  });
});

describe("an instance locked after its create or its resize", () => {
  async function lockedUntilTries(method: string) {
    const of: { fake?: FakeVultr } = {};
    const clock = clockAfter(of, method, /^\/v2\/instances\/[^/]+$/, REFUSALS);
    const env = await startProviders({ instanceLockMs: LOCK_MS, clock });
    of.fake = env.fake;
    return env;
  }

  it("is refused a DELETE with Vultr's HTTP 500 while locked", async () => {
    const { fake, providers } = await lockedUntilTries("DELETE");
    const { id } = await providers.Instance.create(instanceInputs());
    const client = new VultrClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 0 });
    const refused = await client.delete(`/v2/instances/${id}`).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 500, vultrMessage: SERVER_LOCKED });
  });

  it("is deleted once the lock is over, trying again with waits that grow", async () => {
    const { fake, providers } = await lockedUntilTries("DELETE");
    const { id, outs } = await providers.Instance.create(instanceInputs());
    await providers.Instance.delete(id, outs);

    const statuses = fake.requestsTo("DELETE", `/v2/instances/${id}`).map((r) => r.status);
    expect(statuses).toEqual([...Array<number>(REFUSALS).fill(500), 204]);
    expect(fake.state.instances.size).toBe(0);
  });

  it("is refused a PATCH after a resize, and changed once that lock is over", async () => {
    const { fake, providers } = await lockedUntilTries("PATCH");
    const { id, outs } = await providers.Instance.create(instanceInputs());
    fake.state.instances.get(id)!.fake.lockedUntil = 0; // the create's lock is over
    // The resize locks it again, and the lock outlasts the plan change.
    const { outs: bigger } = await providers.Instance.update!(id, outs, instanceInputs({ plan: "vhp-4c-8gb-amd" }));
    const { outs: renamed } = await providers.Instance.update!(
      id,
      bigger,
      instanceInputs({ plan: "vhp-4c-8gb-amd", label: "renamed" }),
    );
    expect(renamed.label).toBe("renamed");
    const patches = fake.requestsTo("PATCH", `/v2/instances/${id}`);
    expect(patches.map((r) => r.status)).toEqual([202, ...Array<number>(REFUSALS - 1).fill(500), 202]);
    expect(patches[1]!.body).toEqual({ label: "renamed" });
  });

  it("stops waiting at the bound with an error that says what to do", async () => {
    const { fake, providers } = await startProviders({ instanceLockMs: 60_000 }, { instanceLockTimeoutMs: 50 });
    const { id, outs } = await providers.Instance.create(instanceInputs());
    const message = await messageOf(providers.Instance.delete(id, outs));
    expect(message).toContain(`Instance ${id} stayed locked for 50 ms, so it could not delete it`);
    expect(message).toContain("VULTR_WAIT_TIMEOUT_MS");
    expect(message).toContain(SERVER_LOCKED);
    expect(fake.state.instances.has(id)).toBe(true);
  });
});
