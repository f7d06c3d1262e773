// The NATS users the toolkit renders (infra/host/nats-users.ts): no secret
// value can be misread by nats-server, since none reaches its config parser,
// whatever shape the stack's natsToken has (issue: tokens such as `31-...`,
// `2026-01-01`, `1e5`, `3.5` stopped NATS from starting when it parsed
// $NATS_TOKEN). Checked with the real `nats-server -t`, then logged in to.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  natsCredential,
  natsCredentials,
  natsKeyId,
  natsPasswordHash,
  NATS_ROLES,
  renderNatsAuth,
} from "../../infra/host/nats-users.js";
import { renderEnvFile } from "../../infra/host/render.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { newSecret } from "../../scripts/ops/new-secret.js";
import { natsServerBinary } from "../../scripts/setup/tools.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

/** Shapes nats-server's parser reads as something else than a string, and other awkward ones. */
const BAD_SHAPES = [
  "31-Xk2vQm9ZpL0aBcDeFgHiJkLmNoP",
  "2026-01-01",
  "2026-01-01T00:00:00Z-and-more-0123",
  "1e5",
  "3.5",
  "true",
  "12345678901234567890",
  "-leading-dash-0123456789",
  "8T3abcdefghijklmnopq",
  "2K1abcdefghijklmnopq",
  "00M9abcdefghijklmnop",
  '$NATS_TOKEN "quoted" \\ back#slash',
  "spaces and\ttabs in it 0123",
];
/** Made the ways the project has made them: npm run local's old 24 bytes, docs/deploy.md's openssl, the toolkit's now. */
const generated = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    [() => randomBytes(24).toString("base64url"), () => randomBytes(32).toString("base64"), newSecret][i % 3]!(),
  );

describe("the NATS users' names and passwords", () => {
  it("are plain for every consumer (env file, compose, JSON) whatever the secret's shape, over 3,000 secrets", () => {
    for (const secret of [...BAD_SHAPES, ...generated(3000)]) {
      for (const { user, password } of Object.values(natsCredentials(secret))) {
        expect(user).toMatch(/^(api|backup|ops)-[0-9a-f]{8}$/);
        expect(password).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(() => renderEnvFile("t", "P={{P}}", { P: password })).not.toThrow();
      }
    }
  });

  it("differ by role and by secret, and are the same for the same secret", () => {
    const [a, b] = [natsCredentials("secret-a-0123456789abcdef"), natsCredentials("secret-b-0123456789abcdef")];
    expect(new Set(NATS_ROLES.map((r) => a[r].password)).size).toBe(3);
    expect(a.api.password).not.toBe(b.api.password);
    expect(a.api.user).not.toBe(b.api.user);
    expect(natsCredential("secret-a-0123456789abcdef", "api")).toEqual(a.api);
    expect(natsKeyId("secret-a-0123456789abcdef")).toBe(a.api.user.slice(4));
  });

  it("are hashed the same way every time, so an unchanged stack installs and reloads nothing", () => {
    const password = natsCredentials(newSecret()).api.password;
    const hash = natsPasswordHash(password);
    expect(hash).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    expect(renderNatsAuth(loadTemplates().natsAuth, ["x".repeat(20)])).toBe(
      renderNatsAuth(loadTemplates().natsAuth, ["x".repeat(20)]),
    );
  });

  it("refuses the same secret as current and previous", () => {
    expect(() => renderNatsAuth(loadTemplates().natsAuth, ["same-0123456789abcdef", "same-0123456789abcdef"])).toThrow(
      /the same NATS secret is given twice/,
    );
  });
});

describe("nats-server with the rendered users", () => {
  const dir = scratchDir("nats-shapes");
  let server: ReturnType<typeof spawn> | undefined;
  afterAll(() => {
    server?.kill("SIGTERM");
    dir.remove();
  });

  it("accepts the config (nats-server -t) for every bad shape and generated secret, and lets each API user log in", async () => {
    const secrets = [...BAD_SHAPES, ...generated(6)];
    const folder = join(dir.path, "conf");
    mkdirSync(folder);
    const port = await freePort();
    writeFileSync(
      join(folder, "nats-server.conf"),
      loadTemplates()
        .natsConf.replace("listen: 0.0.0.0:4222", `listen: 127.0.0.1:${port}`)
        .replace(/^http: .*$/m, "")
        .replace("store_dir: /data", `store_dir: "${join(dir.path, "js")}"`),
    );
    // Every secret's users in one file: each is the current or previous of a rotation somewhere.
    writeFileSync(join(folder, "nats-auth.conf"), renderNatsAuth(loadTemplates().natsAuth, secrets));
    // No environment: nothing in the config is read from one.
    const checked = execFileSync(natsServerBinary(), ["-c", join(folder, "nats-server.conf"), "-t"], {
      env: {},
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    expect(checked).not.toMatch(/error/i);

    server = spawn(natsServerBinary(), ["-c", join(folder, "nats-server.conf")], { env: {}, stdio: "ignore" });
    for (const secret of secrets) {
      const { user, password } = natsCredential(secret, "api");
      const nc = await connect({
        servers: `127.0.0.1:${port}`,
        user,
        pass: password,
        waitOnFirstConnect: true,
        timeout: 10_000,
      });
      expect(nc.info?.server_name).toBe("platform-nats");
      await nc.close();
    }
    // And nobody gets in with the secret itself, nor with another role's password under this user.
    const { api, ops } = natsCredentials(secrets[0]!);
    await expect(connect({ servers: `127.0.0.1:${port}`, token: secrets[0]!, reconnect: false })).rejects.toThrow(
      /authorization/i,
    );
    await expect(
      connect({ servers: `127.0.0.1:${port}`, user: api.user, pass: ops.password, reconnect: false }),
    ).rejects.toThrow(/authorization/i);
  }, 180_000);
});
