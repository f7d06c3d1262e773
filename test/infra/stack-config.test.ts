import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parseCidr } from "../../infra/config/cidr.js";
import { StackConfigError } from "../../infra/config/errors.js";
import { CONFIG_SCHEMA, parseStackConfig } from "../../infra/config/stack-config.js";
import { stackWarnings } from "../../infra/config/warnings.js";
import { generateKeyPair, KEYS, REALISTIC_CONFIG, REALISTIC_SECRETS, SECRET_KEYS } from "../harness/stack-configs.js";

const raw = (overrides: Record<string, unknown> = {}, secretKeys = SECRET_KEYS) => {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...REALISTIC_CONFIG, ...REALISTIC_SECRETS, ...overrides })) {
    if (v !== undefined) values[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return { values, secretKeys: new Set(secretKeys), stack: "prod" };
};

function errorOf(overrides: Record<string, unknown>, secretKeys?: string[]): StackConfigError {
  try {
    parseStackConfig(raw(overrides, secretKeys));
  } catch (err) {
    if (err instanceof StackConfigError) return err;
    throw err;
  }
  throw new Error("expected a StackConfigError");
}

describe("parseStackConfig", () => {
  it("reads a realistic config, with defaults for what is not set", () => {
    const config = parseStackConfig(
      raw({ region: undefined, plan: undefined, apiSubdomain: undefined, backupsRegion: undefined }),
    );
    expect(config).toMatchObject({
      server: {
        kind: "vultr",
        region: "ewr",
        plan: "vhp-2c-4gb-amd",
        osName: "Ubuntu 24.04 LTS x64",
        createDnsZone: true,
        reservedIp: true,
        backupsRegion: "ewr",
        protectData: true,
        allowReplace: false,
      },
      apiHost: "api.example.com",
      sshPort: 22,
      deployUser: "deploy",
      tlsIssuer: "letsencrypt",
      packageSource: "official",
      sshPrivateKey: KEYS.privateKey,
    });
    expect(config.adminCidrs).toEqual([
      { version: 4, address: "203.0.113.7", prefix: 32 },
      { version: 6, address: "2001:db8:1234::", prefix: 48 },
    ]);
  });

  it('serves the API on the domain itself with apiSubdomain "@"', () => {
    expect(parseStackConfig(raw({ apiSubdomain: "@" })).apiHost).toBe("example.com");
  });

  it.each([
    [{ domain: undefined }, /Config "domain": is not set\. Set it: pulumi config set domain example\.com/],
    [{ domain: "localhost" }, /Config "domain": "localhost" is not a domain name/],
    [{ region: "New York" }, /Config "region": "New York" is not a Vultr region id/],
    [{ plan: "big" }, /Config "plan": "big" is not a Vultr plan id/],
    [{ hostname: "Chat_Platform" }, /Config "hostname": "Chat_Platform" is not a host name/],
    [{ apiSubdomain: "api.v1" }, /Config "apiSubdomain": "api.v1" is not a single DNS label/],
    [
      { createDnsZone: "yes" },
      /Config "createDnsZone": is "yes", not a boolean\. Use: pulumi config set createDnsZone true/,
    ],
    [{ adminCidrs: undefined }, /Config "adminCidrs": is not set\. List the addresses allowed to SSH in/],
    [{ adminCidrs: [] }, /Config "adminCidrs": is an empty list/],
    [{ adminCidrs: "203.0.113.7/32" }, /Config "adminCidrs": is not a list/],
    [{ adminCidrs: ["0.0.0.0/0"] }, /Config "adminCidrs\[0\]": "0\.0\.0\.0\/0" would open SSH to the whole internet/],
    [
      { adminCidrs: ["203.0.113.7/32", "::/0"] },
      /Config "adminCidrs\[1\]": "::\/0" would open SSH to the whole internet/,
    ],
    [{ adminCidrs: ["203.0.113.7/24"] }, /"203\.0\.113\.7\/24" has host bits set; the network is 203\.0\.113\.0\/24/],
    [{ adminCidrs: ["my-laptop"] }, /"my-laptop" is not an IPv4 or IPv6 address/],
    [{ sshPublicKey: "AAAAC3Nza" }, /Config "sshPublicKey": "AAAAC3Nza" is not an OpenSSH public key/],
    [
      { sshPrivateKey: undefined },
      /Config "sshPrivateKey": is not set\. Store it encrypted: pulumi config set --secret sshPrivateKey/,
    ],
    [{ sshPrivateKey: "hunter2" }, /Config "sshPrivateKey": is not an unencrypted OpenSSH\/PEM private key/],
    [
      { sshPrivateKey: generateKeyPair("a passphrase").privateKey },
      /Config "sshPrivateKey": is protected by a passphrase, which no deploy step can type\. Make a deploy key without one/,
    ],
    [
      { sshPrivateKey: generateKeyPair().privateKey },
      /Config "sshPrivateKey": is not the private half of sshPublicKey, so the host would refuse every login/,
    ],
    [
      { adminCidrs: ["2001:db8::7/32"] },
      /"2001:db8::7\/32" has host bits set; the network is 2001:db8::\/32 \(for this one address use 2001:db8::7\/128\)/,
    ],
    [{ existingServer: "my server" }, /Config "existingServer": "my server" is not an IP address or a host name/],
    [
      { existingServer: "203.0.113.10", plan: "vc2-1c-1gb" },
      /Config "plan": is set, but existingServer says this stack uses a server of its own/,
    ],
    [{ tlsIssuer: "zerossl" }, /Config "tlsIssuer": is "zerossl"\. Use one of: letsencrypt, internal/],
    [{ sshPort: "70000" }, /Config "sshPort": is 70000, more than 65535/],
    [{ acmeEmail: "ops" }, /Config "acmeEmail": "ops" is not an e-mail address/],
    [{ natsToken: "short" }, /Config "natsToken": is 5 characters, fewer than 16\. Set a longer one: openssl rand/],
    [
      { jwtSecret: undefined },
      /Config "jwtSecret": is not set\. Set it: openssl rand -base64 48 \| pulumi config set --secret jwtSecret/,
    ],
    [{ llmProvider: "gemini" }, /Config "llmProvider": is "gemini"\. Use one of: anthropic, openai, mock/],
    [
      { rateLimitRequests: "lots" },
      /Config "rateLimitRequests": is invalid \("lots"\); use a whole number of requests, e\.g\. 60\. Change it \(pulumi config set rateLimitRequests \.\.\.\), or remove it for the API's default/,
    ],
    [{ disconnectPolicy: "drop" }, /Config "disconnectPolicy": is invalid \("drop"\); use "continue"/],
    [
      { tracingEnabled: "true" },
      /Config "tracingEndpoint": is not set but tracingEnabled is true; give the OTLP\/HTTP collector URL/,
    ],
    [
      { llmAllowedModels: "gpt-4o, gpt-4.1" },
      /Config "llmAllowedModels": "gpt-4o, gpt-4\.1" has characters the host's env file cannot hold \(spaces, quotes, \$, #\)\. Write it without them, e\.g\. "a,b"/,
    ],
    [{ generationLease: "10ms" }, /Config "generationLease": is invalid \("10ms"\); use a duration of at least 1s/],
    [{ apiImage: "Node 20" }, /Config "apiImage": "Node 20" is not a container image name/],
    [
      { apiImage: "node:24-bookworm-slim" },
      /Config "apiImage": "node:24-bookworm-slim" names a tag, not a digest: .*Pin the image you tested by its digest: docker buildx imagetools inspect node:24-bookworm-slim \(the "Digest:" line\), then pulumi config set apiImage node:24-bookworm-slim@sha256:<digest>\. For images built on the host or for tests only: pulumi config set allowImageTags true/,
    ],
    [
      { apiImage: undefined },
      /Config "apiImage": is not set\. Pin the image you tested by its digest: docker buildx imagetools inspect node:24-bookworm-slim \(the "Digest:" line\), then pulumi config set apiImage node:24-bookworm-slim@sha256:<digest>/,
    ],
    [
      { natsImage: undefined },
      /Config "natsImage": is not set\. Pin the image you tested by its digest: docker buildx imagetools inspect nats:2\.10-alpine/,
    ],
    [{ natsImage: "nats:2.10-alpine" }, /Config "natsImage": "nats:2\.10-alpine" names a tag, not a digest/],
    [{ natsImage: "nats@sha256:abc" }, /Config "natsImage": "nats@sha256:abc" names a tag, not a digest/],
  ])("refuses %o, naming the key, the problem and the fix", (overrides, message) => {
    expect(errorOf(overrides).message).toMatch(message);
  });

  it("takes images by digest, and by tag only with allowImageTags (images built on the host, tests)", () => {
    expect(parseStackConfig(raw()).app.apiImage).toBe(REALISTIC_CONFIG.apiImage);
    const local = parseStackConfig(
      raw({ apiImage: "platform-local/node:24", natsImage: "platform-local/nats:2.10", allowImageTags: "true" }),
    );
    expect([local.app.apiImage, local.app.natsImage]).toEqual(["platform-local/node:24", "platform-local/nats:2.10"]);
  });

  it("refuses a private key that is not stored as a secret, without echoing it", () => {
    const err = errorOf(
      {},
      SECRET_KEYS.filter((k) => k !== "sshPrivateKey"),
    );
    expect(err.message).toMatch(/sshPrivateKey": is stored in plaintext/);
    expect(err.message).not.toContain("BEGIN OPENSSH");
  });

  it("reads an existing server; Vultr keys at their Pulumi.yaml defaults do not count as set", () => {
    const existing = parseStackConfig(
      raw({
        plan: undefined,
        hostname: undefined,
        reservedIp: "true",
        backupsBucket: "false",
        existingServer: "server.example.net",
      }),
    );
    expect(existing.server).toEqual({ kind: "existing", address: "server.example.net" });
  });

  it("lifts data protection and allows a replacement only when asked, and only for a Vultr server", () => {
    expect(parseStackConfig(raw({ protectData: "false", allowReplace: "true" })).server).toMatchObject({
      protectData: false,
      allowReplace: true,
    });
    expect(errorOf({ allowReplace: "yes" }).message).toBe(
      'Config "allowReplace": is "yes", not a boolean. Use: pulumi config set allowReplace true (or false)',
    );
    const existing = { existingServer: "203.0.113.10", plan: undefined, hostname: undefined, backupsBucket: "false" };
    expect(errorOf({ ...existing, protectData: "false" }).message).toMatch(
      /^Config "protectData": is set, but existingServer says this stack uses a server of its own/,
    );
  });

  it("pins the server's host key from sshHostKey: one public key line, stored without its comment", () => {
    const host = generateKeyPair();
    const line = host.publicKey.split(" ").slice(0, 2).join(" ");
    expect(parseStackConfig(raw({ sshHostKey: `${host.publicKey}\n` })).sshHostKey).toBe(line);
    const existing = { existingServer: "203.0.113.10", plan: undefined, hostname: undefined, backupsBucket: "false" };
    expect(parseStackConfig(raw({ ...existing, sshHostKey: host.publicKey })).sshHostKey).toBe(line);
    // Unset: made by the program (Vultr) or learnt on the first up (an existing server).
    expect(parseStackConfig(raw({ sshHostKey: "" })).sshHostKey).toBeUndefined();
  });

  it.each([
    [generateKeyPair().privateKey, /Config "sshHostKey": is a private key; the server's public host key is wanted/],
    ["AAAAC3NzaC1lZDI1NTE5", /Config "sshHostKey": is not an OpenSSH public key line/],
    [`203.0.113.10 ${KEYS.publicKey}`, /Config "sshHostKey": is not an OpenSSH public key line/],
    [`${KEYS.publicKey}\n${KEYS.publicKey}`, /Config "sshHostKey": holds more than one line/],
  ])("refuses sshHostKey %j, saying where to read the right value", (value, message) => {
    const error = errorOf({ sshHostKey: value });
    expect(error.message).toMatch(message);
    expect(error.message).toContain('pulumi config set sshHostKey "<the line in /etc/ssh/ssh_host_ed25519_key.pub>"');
    expect(error.message).toContain("ssh-keyscan -t ed25519");
    expect(error.message).toContain("pulumi config rm sshHostKey");
    expect(error.message).not.toContain("BEGIN OPENSSH");
  });

  it("reads alertThresholds as Pulumi stores the object, the defaults for keys left out, and stops on a bad one", () => {
    expect(parseStackConfig(raw()).alertThresholds).toMatchObject({ diskWarningPercent: 80, certificateDays: 14 });
    const config = parseStackConfig(raw({ alertThresholds: { diskWarningPercent: 85 } }));
    expect(config.alertThresholds).toMatchObject({ diskWarningPercent: 85, diskCriticalPercent: 90 });
    expect(errorOf({ alertThresholds: { diskWarningPercent: 95 } }).key).toBe("alertThresholds.diskWarningPercent");
  });

  it("accepts a bare address as a single host", () => {
    expect(parseCidr("203.0.113.9")).toEqual({ version: 4, address: "203.0.113.9", prefix: 32 });
    expect(parseCidr("2001:db8::1")).toEqual({ version: 6, address: "2001:db8::1", prefix: 128 });
  });
});

describe("a rotation's previous secrets (npm run ops -- rotate)", () => {
  const previous = "jwt-previous-0123456789abcdef0123456789";
  it("reads them, encrypted, with the time the previous JWT key retires", () => {
    const config = parseStackConfig(
      raw(
        {
          jwtPreviousSecret: previous,
          jwtPreviousSecretUntil: "2026-12-08T12:00:00Z",
          natsPreviousToken: "nats-previous-0123456789",
        },
        [...SECRET_KEYS, "jwtPreviousSecret", "natsPreviousToken"],
      ),
    );
    expect(config.app.jwtPreviousSecret).toEqual({ secret: previous, until: "2026-12-08T12:00:00Z" });
    expect(config.app.natsPreviousToken).toBe("nats-previous-0123456789");
    expect(parseStackConfig(raw()).app).toMatchObject({ jwtPreviousSecret: undefined, natsPreviousToken: undefined });
  });

  it.each<[Record<string, string>, string[], RegExp]>([
    [{ jwtPreviousSecret: previous }, [], /Config "jwtPreviousSecret": is stored in plaintext.*--secret/],
    [{ natsPreviousToken: "nats-previous-0123456789" }, [], /Config "natsPreviousToken": is stored in plaintext/],
    [
      { jwtPreviousSecret: previous, jwtPreviousSecretUntil: "tomorrow" },
      ["jwtPreviousSecret"],
      /Config "jwtPreviousSecretUntil": "tomorrow" is not a UTC time/,
    ],
    [{ jwtPreviousSecretUntil: "2026-12-08T12:00:00Z" }, [], /is set, but jwtPreviousSecret is not.*config rm/],
  ])("refuses %j", (overrides, secret, message) => {
    expect(() => parseStackConfig(raw(overrides, [...SECRET_KEYS, ...secret]))).toThrow(message);
  });
});

describe("Pulumi.yaml", () => {
  it("takes a backup bucket of your own: all four settings, the keys encrypted, not beside a Vultr bucket", () => {
    const own = {
      backupsBucket: false,
      backupS3Endpoint: "https://ewr1.vultrobjects.com/",
      backupS3Bucket: "chat-backups",
      backupS3AccessKey: "AKIAEXAMPLE",
      backupS3SecretKey: "secret-example",
    };
    const secrets = [...SECRET_KEYS, "backupS3AccessKey", "backupS3SecretKey"];
    expect(parseStackConfig(raw(own, secrets)).backups).toEqual({
      schedule: "hourly",
      keep: 48,
      ownBucket: {
        endpoint: "https://ewr1.vultrobjects.com",
        bucket: "chat-backups",
        accessKey: "AKIAEXAMPLE",
        secretKey: "secret-example",
      },
      recipients: [],
    });
    expect(parseStackConfig(raw({ backupsBucket: false })).backups.ownBucket).toBeUndefined();
    expect(errorOf({ ...own, backupS3SecretKey: undefined }, secrets).message).toMatch(
      /Config "backupS3SecretKey": is not set, but backupS3Endpoint, backupS3Bucket, backupS3AccessKey are/,
    );
    expect(errorOf(own).message).toMatch(/"backupS3AccessKey": is stored in plaintext/);
    expect(errorOf({ ...own, backupsBucket: true }, secrets).message).toMatch(/Choose one/);
    expect(errorOf({ ...own, backupS3Endpoint: "ewr1.vultrobjects.com" }, secrets).message).toMatch(
      /is not an endpoint URL/,
    );
    expect(errorOf({ backupSchedule: "hourly; rm -rf /" }).message).toMatch(/not a systemd calendar expression/);
    expect(errorOf({ backupKeep: "0" }).message).toMatch(/"backupKeep": "0" is not a positive whole number/);
  });

  it("takes the age recipients backups are encrypted to, and refuses anything else, naming the key", () => {
    // Made once for this test (npm run ops -- backup-key); public keys, nothing secret.
    const first = "age19n49gwz4ah2g3cz8xanxcra7s63kcjru89r0slrwyetdr9flvuys87c82g";
    const second = "age1hlt9f08x5l7yz4y8hum8awdzpt7q83a4u2jk0vt6y8r5nx8hsv8sdj2nf0";
    const encrypted = [...SECRET_KEYS, "backupRecipients"];
    expect(parseStackConfig(raw({ backupRecipients: `${first}, ${second}` }, encrypted)).backups.recipients).toEqual([
      first,
      second,
    ]);
    expect(parseStackConfig(raw({})).backups.recipients).toEqual([]);
    // Whoever reads a recipient can make backups that decrypt: never in plaintext.
    expect(errorOf({ backupRecipients: first }).message).toMatch(
      /Config "backupRecipients": is stored in plaintext in the stack file \(anyone who reads it could make backups that decrypt\)\. Remove it and set it with --secret/,
    );
    expect(errorOf({ backupRecipients: first.slice(0, -2) }, encrypted).message).toMatch(
      /Config "backupRecipients": "age19n49gwz4ah2g3cz8\.\.\." is not a valid age recipient \(a typo, or cut short\)\. Use the recipient age-keygen \(or npm run ops -- backup-key\) printed: pulumi config set --secret backupRecipients age1/,
    );
    expect(errorOf({ backupRecipients: "ssh-ed25519 AAAAC3Nza" }, encrypted).message).toMatch(
      /"ssh-ed25519" is not an age recipient/,
    );
    expect(errorOf({ backupRecipients: "AGE-SECRET-KEY-1QQQ" }, encrypted).message).toMatch(
      /the secret half: give its recipient/,
    );
  });

  it("declares exactly the keys the program reads, with the same defaults", () => {
    const project = parseYaml(readFileSync(join(import.meta.dirname, "../../Pulumi.yaml"), "utf8")) as {
      name: string;
      config: Record<string, { type: string; default?: unknown; secret?: boolean }>;
    };
    expect(project.name).toBe("conversational-platform");
    const declared = Object.fromEntries(
      Object.entries(project.config).map(([key, spec]) => [
        key,
        {
          type: spec.type,
          ...(spec.default !== undefined ? { default: spec.default } : {}),
          ...(spec.secret ? { secret: true } : {}),
        },
      ]),
    );
    expect(declared).toEqual(CONFIG_SCHEMA);
  });

  it("declares no default the program refuses: every key left unset either parses or is required", () => {
    const project = parseYaml(readFileSync(join(import.meta.dirname, "../../Pulumi.yaml"), "utf8")) as {
      config: Record<string, { default?: unknown }>;
    };
    // As the engine hands a stack that leaves a key out: its Pulumi.yaml default, or nothing.
    const refused = Object.entries(project.config)
      .filter(([, spec]) => spec.default !== undefined)
      .filter(([key, spec]) => {
        try {
          // An object default reaches the program as JSON, as Pulumi stores objects.
          const value = typeof spec.default === "object" ? JSON.stringify(spec.default) : String(spec.default);
          parseStackConfig(raw({ [key]: value }));
          return false;
        } catch (error) {
          return error instanceof StackConfigError;
        }
      })
      .map(([key]) => key);
    expect(refused).toEqual([]);
    expect(project.config.apiImage).not.toHaveProperty("default");
    expect(project.config.natsImage).not.toHaveProperty("default");
  });
});

describe("Pulumi.prod.yaml", () => {
  it("is a working example: valid once the secret key is set", () => {
    const stack = parseYaml(readFileSync(join(import.meta.dirname, "../../Pulumi.prod.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    const values: Record<string, string> = { ...REALISTIC_SECRETS };
    for (const [key, value] of Object.entries(stack.config)) {
      values[key.replace(/^conversational-platform:/, "")] = typeof value === "string" ? value : JSON.stringify(value);
    }
    // As the user does: their own public key in place of the placeholder.
    expect(values.sshPublicKey).toMatch(/ReplaceWithYourKey/);
    values.sshPublicKey = KEYS.publicKey;
    expect(Object.keys(values).every((k) => k in CONFIG_SCHEMA)).toBe(true);
    const config = parseStackConfig({ values, secretKeys: new Set(SECRET_KEYS), stack: "prod" });
    expect(config.apiHost).toBe("api.example.com");
    expect(stack.config).not.toHaveProperty("conversational-platform:sshPrivateKey");
  });
});

describe("stackWarnings", () => {
  /** A stack whose alerts reach someone, so that only the warning under test is left. */
  const heard = {
    alertWebhookUrl: "https://hooks.example.com/alerts",
    alertHeartbeatUrl: "https://hc.example.com/ping/1",
  };
  const heardSecrets = [...SECRET_KEYS, "alertWebhookUrl", "alertHeartbeatUrl"];

  it("warns of nothing for a stack on the defaults whose alerts reach someone", () => {
    expect(stackWarnings(parseStackConfig(raw(heard, heardSecrets)))).toEqual([]);
  });

  it("warns that alerts reach nobody without a receiver or a heartbeat", () => {
    expect(stackWarnings(parseStackConfig(raw()))).toEqual([
      expect.stringMatching(/^No alert receiver is set/),
      expect.stringMatching(/^alertHeartbeatUrl is not set/),
    ]);
  });

  it("warns that allowReplace lets a replacement delete the chat store, and how to restore", () => {
    const [warning, ...rest] = stackWarnings(parseStackConfig(raw({ ...heard, allowReplace: "true" }, heardSecrets)));
    expect(rest).toEqual([]);
    expect(warning).toMatch(/^allowReplace is true: .*chat store.*npm run ops -- restore latest.*pulumi config rm/);
  });

  it("warns that the OS's Caddy may cut streams in a deploy, and names the fix", () => {
    const [warning, ...rest] = stackWarnings(
      parseStackConfig(raw({ ...heard, packageSource: "distro" }, heardSecrets)),
    );
    expect(rest).toEqual([]);
    expect(warning).toMatch(/^packageSource is "distro": .*Caddy.*cut .*pulumi config rm packageSource$/);
  });
});
