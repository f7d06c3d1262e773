// `npm run ops -- rotate`: the phases each rotation goes through, what is
// stored in the stack, and how the ops commands read NATS's state.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTemplates } from "../../infra/host/templates.js";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { auditCommand } from "../../scripts/ops/host-commands.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import { jwtKeyId } from "../../app/src/auth/jwt-keys.js";
import { natsKeyId } from "../../infra/host/nats-users.js";
import { connectedUsersOf } from "../../scripts/ops/commands/rotate.js";
import { parseNatsLogin } from "../../scripts/ops/nats.js";
import { rotationPhases, type StackSecrets } from "../../scripts/ops/rotation.js";
import { configChanges, rawConfigFromPulumi } from "../../scripts/ops/stack-secrets.js";
import { newSecret } from "../../scripts/ops/new-secret.js";

const NOW = Date.UTC(2026, 11, 6, 12);
const CURRENT: StackSecrets = {
  natsToken: "nats-now-0123456789abcdef",
  jwtSecret: "jwt-now-0123456789abcdef0123456789abcdef",
  llmApiKey: "sk-old",
};
const options = { now: NOW, overlapMs: 24 * 3600_000, finish: false, immediately: false, value: "v".repeat(64) };

describe("rotation phases", () => {
  it("jwt: the new key signs, the old one is accepted for the overlap; --finish removes it once it is over", () => {
    const [start, ...more] = rotationPhases("jwt", CURRENT, options);
    expect(more).toEqual([]);
    expect(start!.secrets).toEqual({
      ...CURRENT,
      jwtSecret: options.value,
      jwtPreviousSecret: { secret: CURRENT.jwtSecret, until: "2026-12-07T12:00:00Z" },
    });
    expect(start!.audit).toBe(
      `jwt: key ${jwtKeyId(options.value)} added; ${jwtKeyId(CURRENT.jwtSecret)} accepted until 2026-12-07T12:00:00Z`,
    );
    // A second rotation waits for the first to end.
    expect(() => rotationPhases("jwt", start!.secrets, options)).toThrow(/still in its overlap.*--finish/);
    expect(() => rotationPhases("jwt", start!.secrets, { ...options, finish: true })).toThrow(
      /accepted until 2026-12-07T12:00:00Z.*--now/,
    );
    const [finish] = rotationPhases("jwt", start!.secrets, { ...options, finish: true, now: NOW + 24 * 3600_000 });
    expect(finish!.secrets.jwtPreviousSecret).toBeUndefined();
    expect(finish!.secrets.jwtSecret).toBe(options.value);
    expect(() => rotationPhases("jwt", CURRENT, { ...options, finish: true })).toThrow(/no JWT rotation to finish/);
  });

  it("jwt --now: no overlap, for a leaked key", () => {
    const [phase] = rotationPhases("jwt", CURRENT, { ...options, immediately: true });
    expect(phase!.secrets).toEqual({ ...CURRENT, jwtSecret: options.value, jwtPreviousSecret: undefined });
  });

  it("nats: the new users beside the old, then the old removed once no client uses them; an interrupted one is finished", () => {
    const phases = rotationPhases("nats", CURRENT, options);
    expect(phases.map((p) => [p.secrets.natsToken, p.secrets.natsPreviousToken, p.waitUntilNoNatsUsersOf])).toEqual([
      [options.value, CURRENT.natsToken, undefined],
      [options.value, undefined, natsKeyId(CURRENT.natsToken)],
    ]);
    const resumed = rotationPhases("nats", phases[0]!.secrets, { ...options, value: "another-one-0123456789" });
    expect(resumed).toEqual([phases[1]]);
  });

  it("llm: the operator's new key, then a rolling restart", () => {
    const [phase] = rotationPhases("llm", CURRENT, { ...options, value: "sk-new" });
    expect(phase!.secrets).toEqual({ ...CURRENT, llmApiKey: "sk-new" });
    expect(() => rotationPhases("llm", CURRENT, { ...options, value: "sk-old" })).toThrow(/already/);
  });

  it("makes new secrets of the one plain shape, every one different", () => {
    const secrets = Array.from({ length: 200 }, newSecret);
    expect(new Set(secrets).size).toBe(200);
    for (const s of secrets) expect(s).toMatch(/^[A-Za-z0-9_-]{64}$/);
  });
});

describe("storing a rotation in the stack", () => {
  it("sets what changed (encrypted, but the time) and removes what is gone", () => {
    const started = rotationPhases("jwt", CURRENT, options)[0]!.secrets;
    expect(configChanges(CURRENT, started)).toEqual([
      { key: "jwtSecret", value: options.value, secret: true },
      { key: "jwtPreviousSecret", value: CURRENT.jwtSecret, secret: true },
      { key: "jwtPreviousSecretUntil", value: "2026-12-07T12:00:00Z", secret: false },
    ]);
    expect(configChanges(started, { ...started, jwtPreviousSecret: undefined })).toEqual([
      { key: "jwtPreviousSecret", value: undefined, secret: true },
      { key: "jwtPreviousSecretUntil", value: undefined, secret: false },
    ]);
  });

  it("reads `pulumi config --json` as the stack's parser does", () => {
    const raw = rawConfigFromPulumi(
      {
        "conversational-platform:jwtSecret": { value: "s", secret: true },
        "conversational-platform:adminCidrs": { value: ["203.0.113.7/32"] },
        "vultr:apiKey": { value: "x", secret: true },
      },
      "prod",
    );
    expect(raw).toEqual({
      values: { jwtSecret: "s", adminCidrs: '["203.0.113.7/32"]' },
      secretKeys: new Set(["jwtSecret"]),
      stack: "prod",
    });
  });
});

describe("NATS as the ops commands see it", () => {
  it("logs in as the ops user, or with the token of a stack deployed before NATS had users", () => {
    expect(parseNatsLogin("NATS_OPS_USER=ops-1\nNATS_OPS_PASSWORD=pw\n")).toEqual({ user: "ops-1", pass: "pw" });
    expect(parseNatsLogin("NATS_TOKEN=tok\n")).toEqual({ token: "tok" });
    expect(parseNatsLogin("")).toBeUndefined();
  });

  it("finds the clients still logged in with a key's users", () => {
    const connz = {
      connections: [
        { authorized_user: "api-aaaa1111", name: "api-api-1" },
        { authorized_user: "backup-bbbb2222" },
        { authorized_user: "api-bbbb2222", name: "api-api-2" },
      ],
    };
    expect(connectedUsersOf(connz, "bbbb2222")).toEqual(["backup-bbbb2222", "api-bbbb2222 (api-api-2)"]);
    expect(connectedUsersOf({}, "bbbb2222")).toEqual([]);
  });
});

describe("the host commands of rotate and revoke", () => {
  it("write the host's audit log with the shared library, as the deploy steps do", async () => {
    const dir = scratchDir("audit");
    try {
      const command = auditCommand(
        loadTemplates(),
        { appDir: dir.path, dataDir: dir.path },
        "tester",
        "revoke",
        'tokens of "x"\tnow',
      );
      const result = await new LocalTransport().exec(command.command, command.script);
      expect(result.code, result.stderr).toBe(0);
      const [line] = readFileSync(join(dir.path, "audit.log"), "utf8").trim().split("\n");
      expect(line!.split("\t").slice(1)).toEqual(["tester", "revoke", 'tokens of "x" now']);
    } finally {
      dir.remove();
    }
  });
});
