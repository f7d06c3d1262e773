// What counts as gone (issue 19, point 5): a 404, a 400 saying "not found",
// or the kind's own text as Vultr words it ("Invalid reserved-ip ID",
// "Invalid domain", "Invalid ssh key", the texts the Terraform provider
// matches). Any other 400 on a read or a delete is an error to report, never
// "deleted outside Pulumi". The fake answers missing objects with Vultr's texts.
import { afterEach, describe, expect, it } from "vitest";
import { classifyVultrError, isGone, VultrApiError, VultrUnreachableError } from "../../infra/vultr/errors.js";
import {
  INVALID_DOMAIN,
  INVALID_RESERVED_IP,
  INVALID_SSH_KEY,
  SERVER_LOCKED,
  UNABLE_TO_DETACH,
} from "../harness/fake-vultr.js";
import { closeFakeVultrs, instanceInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

const apiError = (status: number, path: string, text: string, method: "GET" | "DELETE" = "GET") =>
  new VultrApiError(method, path, status, text, 1);

describe("classifyVultrError", () => {
  it.each([
    [404, "/v2/instances/i", "instance not found", "gone"],
    [400, "/v2/firewalls/g/rules/3", "Firewall rule ID not found", "gone"],
    [400, "/v2/reserved-ips/r", INVALID_RESERVED_IP, "gone"],
    [400, "/v2/domains/example.com", INVALID_DOMAIN, "gone"],
    [400, "/v2/domains/example.com/records/x", INVALID_DOMAIN, "gone"],
    [400, "/v2/ssh-keys/k", INVALID_SSH_KEY, "gone"],
    // Another kind's text, or another case of it, is not this kind's "gone".
    [400, "/v2/domains/example.com", INVALID_RESERVED_IP, "fatal"],
    [400, "/v2/instances/i", INVALID_DOMAIN, "fatal"],
    [400, "/v2/ssh-keys/k", "Invalid SSH key", "fatal"],
    // Validation errors, and errors of other statuses, are not "gone".
    [400, "/v2/reserved-ips/r", "Invalid label", "fatal"],
    [422, "/v2/reserved-ips/r", INVALID_RESERVED_IP, "fatal"],
    [500, "/v2/instances/i", SERVER_LOCKED, "locked"],
    [400, "/v2/reserved-ips/r", UNABLE_TO_DETACH, "attached"],
    [429, "/v2/instances", "Rate limit reached", "retryable"],
    [502, "/v2/instances", "Bad Gateway", "retryable"],
    [501, "/v2/instances", "Not Implemented", "fatal"],
    [401, "/v2/instances", "Invalid API token.", "fatal"],
  ] as const)("HTTP %i on %s saying %j is %s", (status, path, text, expected) => {
    expect(classifyVultrError(apiError(status, path, text))).toBe(expected);
  });

  it("takes no answer as retryable and anything that is not a Vultr error as fatal", () => {
    expect(classifyVultrError(new VultrUnreachableError("reset", new Error("ECONNRESET")))).toBe("retryable");
    expect(classifyVultrError(new Error("instance not found"))).toBe("fatal");
  });
});

describe("the fake answers a missing object with Vultr's text", () => {
  it.each([
    ["/v2/reserved-ips/no-such-id", 400, INVALID_RESERVED_IP],
    ["/v2/domains/missing.example", 400, INVALID_DOMAIN],
    ["/v2/domains/missing.example/records/x", 400, INVALID_DOMAIN],
    ["/v2/ssh-keys/no-such-id", 400, INVALID_SSH_KEY],
    ["/v2/instances/no-such-id", 404, "instance not found"],
  ] as const)("GET %s: HTTP %i %j", async (path, status, text) => {
    const { client } = await startProviders();
    const error = await client.get(path).catch((e: unknown) => e);
    expect(error).toMatchObject({ status, vultrMessage: text });
    expect(isGone(error)).toBe(true);
  });
});

describe("providers", () => {
  it("read an object deleted outside Pulumi as gone, and delete it again without error", async () => {
    const { fake, providers } = await startProviders();
    const reserved = await providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ip" });
    const zone = await providers.DnsDomain.create({ domain: "example.com" });
    const key = await providers.SshKey.create({ name: "k", sshKey: "ssh-ed25519 AAAA k" });
    fake.state.reservedIps.clear();
    fake.state.domains.clear();
    fake.state.sshKeys.clear();

    expect((await providers.ReservedIp.read!(reserved.id, reserved.outs)).id).toBe("");
    expect((await providers.DnsDomain.read!(zone.id, zone.outs)).id).toBe("");
    expect((await providers.SshKey.read!(key.id, key.outs)).id).toBe("");
    await providers.ReservedIp.delete(reserved.id, reserved.outs);
    await providers.DnsDomain.delete(zone.id, zone.outs);
    await providers.SshKey.delete(key.id, key.outs);
    expect(fake.requests.filter((r) => r.status === 400).map((r) => `${r.method} ${r.path}`)).toHaveLength(6);
  });

  it("say that an instance's reserved IP is not in the account when Vultr calls its id invalid", async () => {
    const { fake, providers } = await startProviders();
    const message = await messageOf(providers.Instance.create(instanceInputs({ reservedIpId: "gone-rip" })));
    expect(message).toBe('reservedIpId "gone-rip" is not a reserved IP in this Vultr account');
    expect(fake.requestsTo("POST", "/v2/instances")).toHaveLength(0);
  });

  it("report another 400 on a read or a delete instead of taking the object as gone", async () => {
    const { fake, providers } = await startProviders();
    const reserved = await providers.ReservedIp.create({ region: "ewr", ipType: "v4", label: "ip" });
    const zone = await providers.DnsDomain.create({ domain: "example.com" });
    const path = `/v2/reserved-ips/${reserved.id}`;

    fake.inject({ status: 400, path, body: { error: "Invalid label", status: 400 } });
    expect(await messageOf(providers.ReservedIp.read!(reserved.id, reserved.outs))).toContain(
      "HTTP 400: Invalid label",
    );
    fake.inject({ status: 400, method: "DELETE", path, body: { error: "Invalid request", status: 400 } });
    expect(await messageOf(providers.ReservedIp.delete(reserved.id, reserved.outs))).toContain(
      "HTTP 400: Invalid request",
    );
    // Another kind's "gone" text on a zone's path.
    fake.inject({ status: 400, path: "/v2/domains/example.com", body: { error: INVALID_RESERVED_IP, status: 400 } });
    expect(await messageOf(providers.DnsDomain.read!(zone.id, zone.outs))).toContain(INVALID_RESERVED_IP);

    // Both are still there, and still read as such.
    expect(fake.state.reservedIps.has(reserved.id)).toBe(true);
    expect((await providers.ReservedIp.read!(reserved.id, reserved.outs)).id).toBe(reserved.id);
    expect((await providers.DnsDomain.read!(zone.id, zone.outs)).id).toBe(zone.id);
  });
});
