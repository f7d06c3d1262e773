// Our Vultr API client (keys, base URL, errors, retries, pages) and the
// registry of providers, against the fake Vultr API.
import { afterEach, describe, expect, it } from "vitest";
import { VultrApiError, VultrClient } from "../../infra/vultr/client.js";
import { settingsFromEnv } from "../../infra/vultr/provider.js";
import { vultrProviders } from "../../infra/vultr/resources.js";
import { DEFAULT_OS } from "../harness/fake-vultr.js";
import { closeFakeVultrs, instanceInputs, messageOf, startProviders } from "../harness/vultr-providers.js";

afterEach(closeFakeVultrs);

describe("VultrClient", () => {
  it("names VULTR_API_KEY and how to set it when the key is missing", () => {
    expect(() => VultrClient.fromEnv({})).toThrow(/VULTR_API_KEY is not set.*export VULTR_API_KEY=/);
    expect(() => settingsFromEnv({}).client()).toThrow(/VULTR_API_KEY/);
  });

  it("rejects a wait setting that is not a number of milliseconds, naming it", () => {
    expect(() => settingsFromEnv({ VULTR_POLL_INTERVAL_MS: "soon" })).toThrow(
      'VULTR_POLL_INTERVAL_MS must be a positive number of milliseconds, got "soon"',
    );
    expect(settingsFromEnv({ VULTR_WAIT_TIMEOUT_MS: "1000" }).instanceReadyTimeoutMs).toBe(1000);
  });

  it("reads VULTR_API_URL, with or without a trailing /v2", async () => {
    const { fake } = await startProviders();
    const client = VultrClient.fromEnv({ VULTR_API_KEY: fake.apiKey, VULTR_API_URL: `${fake.url}/v2/` });
    expect(client.baseUrl).toBe(fake.url);
    expect(VultrClient.fromEnv({ VULTR_API_KEY: "k" }).baseUrl).toBe("https://api.vultr.com");
    await client.get("/v2/os");
    expect(fake.requests.at(-1)).toMatchObject({ path: "/v2/os", authorization: `Bearer ${fake.apiKey}` });
  });

  it("explains a 401 without repeating the key", async () => {
    const { fake } = await startProviders();
    const client = new VultrClient({ apiKey: "wrong-key-abcdef", baseUrl: fake.url });
    const message = await messageOf(client.get("/v2/os"));
    expect(message).toContain("GET /v2/os failed with HTTP 401: Invalid API token.");
    expect(message).toContain("VULTR_API_KEY");
    expect(message).not.toContain("wrong-key-abcdef");
  });

  it("turns a 404 into a VultrApiError with Vultr's message", async () => {
    const { client } = await startProviders();
    const error = await client.get("/v2/instances/no-such-id").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VultrApiError);
    expect((error as VultrApiError).status).toBe(404);
    expect((error as Error).message).toBe(
      "Vultr API GET /v2/instances/no-such-id failed with HTTP 404: instance not found",
    );
  });

  it("does not retry a 422, and keeps request bodies (keys, user data) out of the error", async () => {
    const { fake, client } = await startProviders();
    fake.inject({ status: 422, path: "/v2/ssh-keys", body: { error: "Unprocessable: key too short", status: 422 } });
    const message = await messageOf(client.post("/v2/ssh-keys", { name: "k", ssh_key: "ssh-ed25519 SECRETISH" }));
    expect(message).toBe("Vultr API POST /v2/ssh-keys failed with HTTP 422: Unprocessable: key too short");
    expect(fake.requestsTo("POST", "/v2/ssh-keys")).toHaveLength(1);
  });

  it("retries 429 and 500 with backoff, then succeeds", async () => {
    const { fake, client } = await startProviders();
    fake.inject({ status: 429, path: "/v2/os", times: 2 });
    fake.inject({ status: 500, path: "/v2/os" });
    const os = await client.listAll("/v2/os", "os");
    expect(os).toHaveLength(DEFAULT_OS.length);
    expect(fake.requestsTo("GET", "/v2/os").map((r) => r.status)).toEqual([429, 429, 500, 200]);
  });

  it("gives up after a bounded number of retries and says so", async () => {
    const { fake } = await startProviders();
    fake.inject({ status: 503, path: "/v2/os", times: 10 });
    const client = new VultrClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 2, retryBaseDelayMs: 1 });
    const message = await messageOf(client.get("/v2/os"));
    expect(message).toBe("Vultr API GET /v2/os failed with HTTP 503 after 3 attempts: Internal server error");
    expect(fake.requestsTo("GET", "/v2/os")).toHaveLength(3);
  });

  it("follows meta.links.next across pages", async () => {
    const os = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, name: `OS ${i + 1}`, arch: "x64", family: "f" }));
    const { fake, client } = await startProviders({ os });
    const all = await client.listAll<{ id: number }>("/v2/os", "os", { perPage: 3 });
    expect(all.map((o) => o.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const pages = fake.requestsTo("GET", "/v2/os");
    expect(pages.map((r) => r.query.per_page)).toEqual(["3", "3", "3"]);
    expect(pages[0]!.query.cursor).toBeUndefined();
    expect(pages[1]!.query.cursor).toBeTruthy();
  });
});

describe("registry", () => {
  it("has one provider per kind, and diff needs neither key nor network", async () => {
    expect(Object.keys(vultrProviders).sort()).toEqual(
      [
        "DnsDomain",
        "DnsRecord",
        "FirewallGroup",
        "FirewallRule",
        "Instance",
        "LoadBalancer",
        "ObjectStorage",
        "ReservedIp",
        "SshKey",
        "Vpc",
      ].sort(),
    );
    const olds = {
      ...instanceInputs(),
      osId: 2284,
      mainIp: "192.0.2.1",
      v6MainIp: "",
      status: "active",
      dateCreated: "",
    };
    await expect(vultrProviders.Instance!.diff("id", olds, instanceInputs({ label: "x" }))).resolves.toEqual({
      changes: true,
    });
  });
});
