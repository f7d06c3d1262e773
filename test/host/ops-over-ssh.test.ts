// `npm run ops` over SSH, as an operator types it, on the platform `pulumi up`
// deployed on the systemd test host (test/harness/deployed-host.ts): status,
// deploys and rollbacks under load, restarts, logs, tokens, backups (by hand
// and by the host's timer) and restores, the disaster drill last.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import type { SshTransport } from "../../infra/host/runner/ssh.js";
import { PRODUCTION_PATHS, releaseId } from "../../infra/host/steps.js";
import { openBackup } from "../../scripts/backup/backup.js";
import { BackupBucket } from "../../scripts/backup/object-store.js";
import { verifyBackup } from "../harness/backups.js";
import {
  API_HOST,
  BACKUP_KEY,
  CADDY_ROOT_CA,
  DEPLOY_TIMEOUT_MS,
  deployedHost,
  hostKeyNow,
  JWT_SECRET,
  POLICY_PACK,
  ROOT,
} from "../harness/deployed-host.js";
import { run } from "../harness/host-exec.js";
import type { EngineStack } from "../harness/pulumi-engine.js";
import type { FakeS3 } from "../harness/s3.js";
import type { SystemdHost } from "../harness/systemd-host.js";

let host: SystemdHost;
let root: SshTransport;
let s3: FakeS3;
let byo: EngineStack | undefined;

beforeAll(async () => {
  ({ host, root, s3, byo } = await deployedHost());
}, DEPLOY_TIMEOUT_MS);

// Each ops command starts tsx and an SSH session: on a loaded machine some take tens of seconds.
describe("npm run ops over SSH, on the stack pulumi up deployed on the test host", { timeout: 300_000 }, () => {
  // The commands as an operator types them, with the deploy key in a file.
  const ops = (args: string[], timeoutMs = 300_000, env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        "npm",
        [
          ...["run", "-s", "ops", "--", ...args, "--host", host.address, "--user", "deploy", "--key", host.keyPath],
          ...["--host-key", hostKeyNow()],
        ],
        { cwd: ROOT, env: { ...process.env, OPS_ACTOR: "engine-up-test", ...env } },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  const client = async () =>
    new ChatClient(`https://${API_HOST}`, await tokenFor("ops-user", { secret: JWT_SECRET }), {
      ca: readFileSync(join(host.root, CADDY_ROOT_CA)),
      connectTo: host.address,
    });
  /** Bounded load through Caddy while `during` runs: short requests and long streams. */
  async function underLoad<T>(during: Promise<T>) {
    let over = false;
    const result = during.finally(() => (over = true));
    const chat = await client();
    const id = await chat.createConversation();
    const failures: string[] = [];
    let answers = 0;
    let requests = 0;
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const streams = async () => {
      for (let i = 0; i < 40 && !over; i++) {
        const stream = await chat.send(id, words);
        await stream.ended;
        answers++;
        const deltas = stream.events.filter((e) => e.event === "delta").length;
        if (stream.status !== 200 || stream.events.at(-1)?.event !== "done" || deltas < 60)
          failures.push(`stream: ${stream.status} ${stream.events.at(-1)?.event} ${deltas}`);
      }
    };
    const shorts = async () => {
      for (let i = 0; i < 400 && !over; i++) {
        const res = await chat
          .request("GET", "/v1/conversations")
          .catch((e: Error) => ({ status: 0, text: e.message }));
        requests++;
        if (res.status !== 200) failures.push(`request: ${res.status} ${res.text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const [value] = await Promise.all([result, streams(), streams(), shorts()]);
    return { value, failures, answers, requests };
  }
  // Bundles to deploy, beside dist/ (the host is known only once it runs).
  const bundleV2 = join(ROOT, ".tmp", `ops-deploy-v2-${process.pid}.cjs`);
  const broken = join(ROOT, ".tmp", `ops-deploy-broken-${process.pid}.cjs`);

  beforeAll(() => {
    mkdirSync(join(ROOT, ".tmp"), { recursive: true });
    writeFileSync(
      bundleV2,
      Buffer.concat([readFileSync(join(ROOT, "dist/api.cjs")), Buffer.from("\n// ops deploy\n")]),
    );
    // Parses (node --check passes), then dies at start: never healthy.
    writeFileSync(broken, 'throw new Error("a release that cannot start");\n');
  });
  afterAll(() => {
    rmSync(bundleV2, { force: true });
    rmSync(broken, { force: true });
  });

  it("status --json: the API through Caddy, the containers, the release, JetStream, the disk, the certificate", async () => {
    const result = await ops(["status", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout);
    expect(status.health).toEqual({ httpStatus: 200, body: { status: "ok" } });
    expect(status.instances.map((i: { port: number; httpStatus: number }) => `${i.port} ${i.httpStatus}`)).toEqual([
      "8081 200",
      "8082 200",
    ]);
    expect(status.apiHost).toBe(API_HOST);
    expect(
      status.containers.map((c: { service: string; health: string }) => `${c.service} ${c.health}`).sort(),
    ).toEqual(["api-1 healthy", "api-2 healthy", "nats healthy"]);
    expect(status.release).toMatch(/^[0-9a-f]{12}$/);
    expect(status.jetstream.streams).toBeGreaterThan(0);
    expect(status.jetstream.maxStorageBytes).toBeGreaterThan(0);
    expect(status.disk.availableBytes).toBeGreaterThan(0);
    expect(status.certificate.issuer).toMatch(/Caddy Local Authority/);
  });

  it("deploy: a new release under load, one instance at a time, failing no request and cutting no stream", async () => {
    const { value, failures, answers, requests } = await underLoad(ops(["deploy", "--bundle", bundleV2]));
    expect(value.code, value.stdout + value.stderr).toBe(0);
    console.log(`during the ops deploy: ${answers} answers, ${requests} short requests`);
    expect(failures).toEqual([]);
    expect(answers).toBeGreaterThanOrEqual(2);
    const releases = JSON.parse((await ops(["releases", "--json"])).stdout);
    expect(releases.current).toBe(releaseId(readFileSync(bundleV2)));
    expect(releases.audit.at(-1)).toMatchObject({ actor: "engine-up-test", action: "deploy" });
  }, 600_000);

  it("deploy: a release that does not become healthy is rolled back by itself, and the old one keeps serving", async () => {
    const before = JSON.parse((await ops(["releases", "--json"])).stdout).current;
    const result = await ops(["deploy", "--bundle", broken]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(`did not become healthy; ${before} is in service again`);
    const status = JSON.parse((await ops(["status", "--json"])).stdout);
    expect(status.release).toBe(before);
    expect(status.health.httpStatus).toBe(200);
  });

  it("deploy: refused while another one holds the lock", async () => {
    const lock = `${PRODUCTION_PATHS.appDir}/.deploy.lock`;
    // Another deploy, as seen by the host: the lock held by a process there.
    const held = root.exec(`flock ${lock} sleep 20`);
    await new Promise((r) => setTimeout(r, 1000));
    const before = (await run(root, `cat ${PRODUCTION_PATHS.appDir}/current-release`)).stdout;
    const result = await ops(["deploy", "--bundle", bundleV2]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("another deploy is running here");
    expect((await run(root, `cat ${PRODUCTION_PATHS.appDir}/current-release`)).stdout).toBe(before);
    await held;
  });

  it("rollback: back to the release before, the same careful way", async () => {
    const before = JSON.parse((await ops(["releases", "--json"])).stdout);
    const result = await ops(["rollback"]);
    expect(result.code, result.stderr).toBe(0);
    const after = JSON.parse((await ops(["releases", "--json"])).stdout);
    expect(after.current).toBe(before.previous);
    expect(after.audit.at(-1)).toMatchObject({ action: "rollback" });
  });

  it("pulumi up keeps the release ops put in service when its own bundle did not change", async () => {
    // After the rollback above, pulumi's own release is in service again: put the ops one back.
    expect((await ops(["deploy", "--bundle", bundleV2])).code).toBe(0);
    const inService = JSON.parse((await ops(["releases", "--json"])).stdout).current;
    expect(inService).toBe(releaseId(readFileSync(bundleV2)));
    // A settings change: the stack step runs again, with the same bundle as its last deploy.
    await byo!.ok(["config", "set", "logLevel", "debug"]);
    const up = await byo!.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
    expect(up.stdout).toMatch(/platform-host-stack\s+updated/);
    const status = JSON.parse((await ops(["status", "--json"])).stdout);
    expect(status.release).toBe(inService);
    expect(status.health.httpStatus).toBe(200);
  }, 600_000);

  it("restart api: one instance at a time under load, failing nothing", async () => {
    const { value, failures } = await underLoad(ops(["restart", "api"]));
    expect(value.code, value.stderr).toBe(0);
    expect(failures).toEqual([]);
  }, 600_000);

  it("logs: each line labelled with its instance, filtered by --grep", async () => {
    const all = await ops(["logs", "api", "--tail", "20"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^api-1\S*\s+\| \d{4}-\d\d-\d\dT/m);
    expect(all.stdout).toMatch(/^api-2\S*\s+\| \d{4}-\d\d-\d\dT/m);
    // The restart above ran under load: Caddy's last lines hold its requests.
    const caddy = await ops(["logs", "caddy", "--tail", "50", "--grep", "/v1/conversations"]);
    const lines = caddy.stdout.split("\n").filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.startsWith("caddy | ") && l.includes("/v1/conversations"))).toBe(true);
  });

  it("token: a short-lived JWT the API accepts, signed with the secret the operator's environment gives", async () => {
    const refused = await ops(["token", "--sub", "smoke"], 60_000);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("OPS_JWT_SECRET");
    const result = await ops(["token", "--sub", "smoke", "--ttl", "5m"], 60_000, { OPS_JWT_SECRET: JWT_SECRET });
    expect(result.code, result.stderr).toBe(0);
    const chat = new ChatClient(`https://${API_HOST}`, result.stdout.trim(), {
      ca: readFileSync(join(host.root, CADDY_ROOT_CA)),
      connectTo: host.address,
    });
    expect((await chat.request("GET", "/v1/conversations")).status).toBe(200);
  });

  // The bucket as the operator names it for a server given by --host.
  const bucketEnv = () => ({
    OPS_BACKUP_ENDPOINT: s3.endpoint,
    OPS_BACKUP_BUCKET: s3.bucket,
    OPS_BACKUP_ACCESS_KEY: s3.accessKey,
    OPS_BACKUP_SECRET_KEY: s3.secretKey,
  });
  const backupsDir = join(ROOT, ".tmp", `ops-backups-${process.pid}`);
  const identityFile = join(backupsDir, "operator.key");
  // What the operator gives a server named by --host: the recipient to encrypt to, the identity to decrypt with.
  const encryptionEnv = () => {
    mkdirSync(backupsDir, { recursive: true });
    writeFileSync(identityFile, `${BACKUP_KEY.identity}\n`, { mode: 0o600 });
    return { OPS_BACKUP_RECIPIENTS: BACKUP_KEY.recipient, OPS_BACKUP_IDENTITY: identityFile };
  };
  const savedName = (stdout: string) => /saved \S+\/(backup-\d{8}T\d{6}Z)/.exec(stdout)?.[1];
  const inBucket = async () => {
    const bucket = new BackupBucket(s3);
    try {
      return await bucket.list();
    } finally {
      bucket.close();
    }
  };
  afterAll(() => rmSync(backupsDir, { recursive: true, force: true }));

  it("backup: every stream through an SSH tunnel while the platform serves, into a folder and the bucket", async () => {
    const { value, failures } = await underLoad(ops(["backup", "--out", backupsDir, "--upload"], 300_000, bucketEnv()));
    expect(value.code, value.stdout + value.stderr).toBe(0);
    expect(failures).toEqual([]);
    const name = savedName(value.stdout)!;
    // No recipients given to ops for a server named by --host: plaintext, and said so.
    expect(value.stderr).toContain(`${join(backupsDir, name)} is NOT encrypted and holds production data`);
    const manifest = await verifyBackup(join(backupsDir, name));
    // Rate-limit counters and answers in progress are not backed up;
    // revocations are: a restore must not let a revoked token in again.
    expect(manifest.streams.map((s) => s.name)).toEqual([
      "CONVERSATIONS",
      "KV_conversation-contexts",
      "KV_conversations",
      "KV_revocations",
    ]);
    expect(manifest.streams[0]!.messages).toBeGreaterThan(0);
    expect(await inBucket()).toContain(name);
    const status = JSON.parse((await ops(["status", "--json"])).stdout);
    expect(status.lastBackup).toContain(name);
  }, 600_000);

  it("keeps NATS's client port off the network: only the SSH tunnel reaches it", async () => {
    const reached = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: host.address, port: 4222, timeout: 3000 });
      socket.once("connect", () => resolve(true));
      socket.once("error", () => resolve(false));
      socket.once("timeout", () => resolve(false));
    });
    expect(reached).toBe(false);
  });

  it("scheduled backup: the host's timer backs up and uploads by itself", async () => {
    const timers = await run(root, "systemctl list-timers platform-backup.timer --all --no-legend");
    expect(timers.stdout).toContain("platform-backup.timer");
    const before = await inBucket();
    // What the timer starts; a oneshot service, so this returns when the backup is done.
    await new Promise((r) => setTimeout(r, 1100));
    const started = await run(root, "systemctl start platform-backup.service");
    const journal = await run(root, "journalctl -u platform-backup --no-pager -o cat | tail -n 40");
    expect(started.code, journal.output).toBe(0);
    const after = await inBucket();
    expect(after.length, journal.output).toBe(before.length + 1);
    const status = JSON.parse((await ops(["status", "--json"])).stdout);
    expect(status.lastBackup).toContain(`${after.at(-1)} uploaded to s3://${s3.bucket}`);
    expect(status.lastBackup).toContain("by the timer, encrypted");
    // Ciphertext only, in the bucket and on the host; the operator's identity opens it.
    const name = after.at(-1)!;
    const bucket = new BackupBucket(s3);
    try {
      const files = await bucket.source(name).files();
      expect(files.sort()).toEqual([
        "manifest.json.age",
        "streams/CONVERSATIONS.tar.s2.age",
        "streams/KV_conversation-contexts.tar.s2.age",
        "streams/KV_conversations.tar.s2.age",
        "streams/KV_revocations.tar.s2.age",
      ]);
      const opened = await openBackup(bucket.source(name), { identities: [BACKUP_KEY.identity] });
      opened.cleanup();
      expect(opened.manifest.streams[0]!.messages).toBeGreaterThan(0);
    } finally {
      bucket.close();
    }
    const onHost = await run(root, `find ${PRODUCTION_PATHS.dataDir}/backups/${name} -type f | sort`);
    expect(
      onHost.stdout
        .trim()
        .split("\n")
        .map((f) => f.slice(f.indexOf(name) + name.length + 1)),
    ).toEqual([
      "manifest.json.age",
      "streams/CONVERSATIONS.tar.s2.age",
      "streams/KV_conversation-contexts.tar.s2.age",
      "streams/KV_conversations.tar.s2.age",
      "streams/KV_revocations.tar.s2.age",
    ]);
    const onHostRecipients = await run(root, `cat ${PRODUCTION_PATHS.appDir}/backup/recipients.env`);
    expect(onHostRecipients.stdout).toContain(`BACKUP_RECIPIENTS=${BACKUP_KEY.recipient}`);
    expect(onHostRecipients.stdout).not.toContain("AGE-SECRET-KEY");
    expect(status.backupTimer).toMatchObject({ lastResult: "success", next: expect.stringMatching(/\d{4}-\d\d-\d\d/) });
  }, 600_000);

  it("restore: refuses a damaged backup, or one over conversations the server holds, before stopping anything", async () => {
    const backup = await ops(["backup", "--out", backupsDir], 300_000);
    const name = savedName(backup.stdout)!;
    const auditBefore = JSON.parse((await ops(["releases", "--json"])).stdout).audit.length;
    const refused = await ops(["restore", join(backupsDir, name)], 300_000);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the server holds messages in CONVERSATIONS \(\d+ messages\).*--replace/);
    const snapshot = join(backupsDir, name, "streams/CONVERSATIONS.tar.s2");
    writeFileSync(snapshot, readFileSync(snapshot).subarray(0, 100));
    const damaged = await ops(["restore", join(backupsDir, name), "--replace"], 300_000);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain("is damaged, so nothing was restored");
    expect(damaged.stderr).toContain("streams/CONVERSATIONS.tar.s2 has 100 bytes");
    // Nothing was stopped, nothing audited.
    expect(JSON.parse((await ops(["releases", "--json"])).stdout).audit).toHaveLength(auditBefore);
    expect(JSON.parse((await ops(["status", "--json"])).stdout).health.httpStatus).toBe(200);
  }, 600_000);

  it("restore, the disaster drill: NATS's data lost, a backup from the bucket brings every conversation back", async () => {
    const chat = await client();
    const id = await chat.createConversation("kept across a disaster");
    const answer = await chat.send(id, "remember this question");
    await answer.ended;
    const before = await chat.conversation(id);
    expect(before.messages).toHaveLength(2);
    // Encrypted on the operator's machine, decrypted there with the identity for the restore.
    const backup = await ops(["backup", "--out", backupsDir, "--upload"], 300_000, {
      ...bucketEnv(),
      ...encryptionEnv(),
    });
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toContain("encrypted to 1 recipient(s)");
    const name = savedName(backup.stdout)!;
    rmSync(join(backupsDir, name), { recursive: true });

    // The disaster: NATS comes back with an empty store (a new server, a lost volume).
    const compose = `cd ${PRODUCTION_PATHS.appDir} && API_RELEASE=releases/$(cat current-release) docker compose -f docker-compose.prod.yml`;
    const lost = await run(
      root,
      `${compose} stop nats && rm -rf ${PRODUCTION_PATHS.dataDir}/nats/* && ${compose} up -d --wait nats`,
    );
    expect(lost.code, lost.output).toBe(0);
    await expect
      .poll(async () => (await chat.request("GET", `/v1/conversations/${id}`)).status, { timeout: 60_000 })
      .toBe(404);

    // The newest backup in the bucket: the API's new, empty streams are replaced without --replace.
    const started = Date.now();
    const restored = await ops(["restore", "latest"], 600_000, { ...bucketEnv(), ...encryptionEnv() });
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    console.log(`disaster drill: npm run ops -- restore latest took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(restored.stdout).toContain(`restored ${name}`);
    expect(restored.stdout).toContain("decrypted, checksums match");
    await expect
      .poll(async () => (await chat.request("GET", `/v1/conversations/${id}`)).status, { timeout: 60_000 })
      .toBe(200);
    expect((await chat.conversation(id)).messages).toEqual(before.messages);
    const audit = JSON.parse((await ops(["releases", "--json"])).stdout).audit;
    expect(audit.at(-1)).toMatchObject({ action: "restore", actor: "engine-up-test" });
    expect(audit.at(-1).detail).toContain(`${name}: restored`);
    // And the platform takes new conversations again.
    expect(await chat.createConversation()).toMatch(/^[0-9a-f-]{36}$/);
  }, 900_000);
});
