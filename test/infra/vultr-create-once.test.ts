// One create, one billed object (issue 19, point 4): Vultr's front end can
// answer 502/504 after its back end took the POST. The fake does exactly that
// (afterHandling); the client never sends such a POST again by itself, and the
// provider adopts what it finds instead of creating a second one.
import { afterEach, describe, expect, it } from "vitest";
import { afterUnknownCreate, CREATE_ATTEMPTS, LOOKUPS_PER_ATTEMPT } from "../../infra/vultr/create-once.js";
import { closeFakeVultrs, instanceInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

describe("afterUnknownCreate", () => {
  it("adopts the one new lookalike, refuses to choose among several, looks again, then posts again, then gives up", () => {
    expect(afterUnknownCreate(["a"], 1, 1)).toEqual({ adopt: "a" });
    expect(afterUnknownCreate(["a", "b"], 1, 1)).toMatchObject({ fail: expect.stringContaining("2 of them (a, b)") });
    expect(afterUnknownCreate([], 1, 1)).toEqual({ lookAgain: true });
    expect(afterUnknownCreate([], LOOKUPS_PER_ATTEMPT, 1)).toEqual({ postAgain: true });
    expect(afterUnknownCreate([], LOOKUPS_PER_ATTEMPT, CREATE_ATTEMPTS)).toMatchObject({
      fail: expect.stringContaining(`sent ${CREATE_ATTEMPTS} times and never appeared`),
    });
  });
});

describe("a create that met a 5xx", () => {
  it("is answered 504 by the fake after the instance was made", async () => {
    const { fake, client } = await startProviders();
    fake.inject({ status: 504, method: "POST", path: "/v2/instances", afterHandling: true });
    const body = { region: "ewr", plan: "vhp-2c-4gb-amd", os_id: 2284, label: "x" };
    const error = await client.post("/v2/instances", body).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 504 });
    expect(fake.requestsTo("POST", "/v2/instances")).toHaveLength(1); // the client did not send it again
    expect(fake.state.instances.size).toBe(1);
  });

  it("leaves exactly one instance, the one Vultr made, and carries on with it", async () => {
    const { fake, providers } = await startProviders();
    fake.inject({ status: 504, method: "POST", path: "/v2/instances", afterHandling: true });
    const { id, outs } = await providers.Instance.create(instanceInputs());
    expect([...fake.state.instances.keys()]).toEqual([id]);
    expect(fake.requestsTo("POST", "/v2/instances")).toHaveLength(1);
    expect(outs).toMatchObject({ status: "active", label: "chat-platform" });
  });

  it("adopts only a new lookalike, never one that was there before (the server being replaced)", async () => {
    const { fake, providers } = await startProviders();
    const old = await providers.Instance.create(instanceInputs());
    fake.inject({ status: 502, method: "POST", path: "/v2/instances", afterHandling: true });
    const { id } = await providers.Instance.create(instanceInputs());
    expect(id).not.toBe(old.id);
    expect(fake.state.instances.size).toBe(2);
  });

  it("leaves exactly one reserved IP and one Object Storage subscription", async () => {
    const { fake, providers } = await startProviders();
    fake.inject({ status: 502, method: "POST", path: "/v2/reserved-ips", afterHandling: true });
    fake.inject({ status: 504, method: "POST", path: "/v2/object-storage", afterHandling: true });
    const reserved = await providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ipv4" });
    const storage = await providers.ObjectStorage.create({ region: "ewr", label: "backups" });
    expect([...fake.state.reservedIps.keys()]).toEqual([reserved.id]);
    expect([...fake.state.objectStorages.keys()]).toEqual([storage.id]);
    expect(fake.requestsTo("POST", "/v2/reserved-ips")).toHaveLength(1);
    expect(fake.requestsTo("POST", "/v2/object-storage")).toHaveLength(1);
    expect(storage.outs.s3AccessKey).not.toBe("");
  });

  it("is sent again when nothing appeared, so a 502 before Vultr took it still creates one", async () => {
    const { fake, providers } = await startProviders();
    fake.inject({ status: 502, method: "POST", path: "/v2/reserved-ips" });
    const { id } = await providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ipv4" });
    expect(fake.requestsTo("POST", "/v2/reserved-ips").map((r) => r.status)).toEqual([502, 201]);
    expect([...fake.state.reservedIps.keys()]).toEqual([id]);
    expect(fake.requestsTo("GET", "/v2/reserved-ips")).toHaveLength(1 + LOOKUPS_PER_ATTEMPT);
  });

  it("gives up after a bounded number of sends, saying nothing was created", async () => {
    const { fake, providers } = await startProviders();
    fake.inject({ status: 503, method: "POST", path: "/v2/reserved-ips", times: 10 });
    const message = await messageOf(providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ipv4" }));
    expect(message).toContain('Creating Reserved IP "ipv4" in ewr got no clear answer');
    expect(message).toContain("HTTP 503");
    expect(message).toContain(`sent ${CREATE_ATTEMPTS} times and never appeared, so nothing was created`);
    expect(fake.requestsTo("POST", "/v2/reserved-ips")).toHaveLength(CREATE_ATTEMPTS);
    expect(fake.state.reservedIps.size).toBe(0);
  });

  it("is still sent again after a 429, which Vultr turns away before doing anything", async () => {
    const { fake, providers } = await startProviders();
    fake.inject({ status: 429, method: "POST", path: "/v2/reserved-ips" });
    await providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ipv4" });
    expect(fake.requestsTo("POST", "/v2/reserved-ips").map((r) => r.status)).toEqual([429, 201]);
    expect(fake.requestsTo("GET", "/v2/reserved-ips")).toHaveLength(1); // only the look before the create
  });
});
