// `pulumi up` for real: the production program, run by the engine built from
// Go modules, on an existing-server stack pointed at a systemd test host with
// a Docker engine. Every host step runs over SSH: the bootstrap, Caddy (its
// internal CA: the test host is offline), the release, the compose stack and
// the check through Caddy. Then: a second `up` changes nothing, a change that
// touches only Caddy's settings re-runs only the Caddy step, and the API
// streams an answer through Caddy to this machine. And the Vultr program,
// whole, against a local fake of the Vultr API, configuring the same host.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ChatClient, textOf } from "../../scripts/loopback/chat-client.js";
import { run } from "../harness/host-exec.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { startFakeVultr, type FakeVultr } from "../harness/fake-vultr.js";
import { applyFirstBootSshKeys } from "../harness/first-boot.js";
import { loadLocalImages } from "../harness/host-images.js";
import {
  createStack,
  urnName,
  type CommandResult,
  type EngineStack,
  type PreviewJson,
} from "../harness/pulumi-engine.js";
import { startFakeS3, type FakeS3 } from "../harness/s3.js";
import { startSystemdHost, type SystemdHost } from "../harness/systemd-host.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import { hostKeyLine, hostKeyOf } from "../../infra/host/host-keys.js";
import { HostKeyRefusedError, SshTransport } from "../../infra/host/runner/ssh.js";
import { PRODUCTION_PATHS, releaseId, verifyStep } from "../../infra/host/steps.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { openBackup } from "../../scripts/backup/backup.js";
import { verifyBackup } from "../harness/backups.js";
import { generateKeyPair } from "../../scripts/backup/encryption.js";
import { BackupBucket } from "../../scripts/backup/object-store.js";

const ROOT = join(import.meta.dirname, "../..");
const POLICY_PACK = join(ROOT, "dist/policy-pack");
const API_HOST = "api.example.com";
const JWT_SECRET = "engine-up-jwt-secret-0123456789abcdef";
const CADDY_ROOT_CA = "var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt";
/** The operator's age key pair: the stack and the host get the recipient, only the operator (this test) the identity. */
const BACKUP_KEY = await generateKeyPair();

/** Logins of the deploy user that sshd accepted so far. */
async function deployLogins(root: SshTransport): Promise<number> {
  const log = await run(root, "journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey for deploy' || true");
  return Number(log.stdout.trim());
}

/** The host key the test host's sshd presents now (the pinned form: type and key). */
function hostKeyNow(): string {
  return hostKeyLine(hostKeyOf(readFileSync(join(host.root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8")));
}
const fingerprint = (line: string) => hostKeyOf(line).fingerprint;

async function plannedOps(stack: EngineStack): Promise<Record<string, string>> {
  const result = await stack.ok(["preview", "--json", "--policy-pack", POLICY_PACK]);
  const json = JSON.parse(result.stdout) as PreviewJson;
  return Object.fromEntries(
    json.steps.filter((s) => s.newState?.type === "pulumi-nodejs:dynamic/host:Step").map((s) => [urnName(s.urn), s.op]),
  );
}

let host: SystemdHost;
let root: SshTransport;
/** The stack's backup bucket: an S3 endpoint on this machine, where the test host reaches it. */
let s3: FakeS3;
let images: { apiImage: string; natsImage: string };
/** The existing-server stack: the ops tests use it after its own. */
let byo: EngineStack | undefined;

beforeAll(async () => {
  host = await startSystemdHost("engine-up", { docker: true, subnet: 216 });
  s3 = await startFakeS3({ listen: `${host.gatewayAddress}:0` });
  root = host.transport("root");
  images = await loadLocalImages(host, root);
  // What cloud-init does on a Vultr instance, with the script users run on their own server.
  const script = readFileSync(join(ROOT, "templates/host/create-deploy-user.sh"), "utf8");
  const created = await root.exec(`DEPLOY_USER=deploy DEPLOY_SSH_KEY='${host.publicKey}' bash -s`, script);
  if (created.code !== 0) throw new Error(`create-deploy-user.sh: ${created.stdout}\n${created.stderr}`);
}, 600_000);

afterAll(async () => {
  await root?.endSession();
  await byo?.remove();
  await host?.stop();
  await s3?.stop();
}, 120_000);

/** The config both stacks share: the test host is offline and its images local. */
function offlineHostConfig(): Record<string, string | string[]> {
  return {
    domain: "example.com",
    apiSubdomain: "api",
    acmeEmail: "ops@example.com",
    adminCidrs: [`${host.gatewayAddress}/32`],
    sshPublicKey: host.publicKey,
    // Caddy's own CA, and Debian's packages (the host reaches only its archive).
    tlsIssuer: "internal",
    packageSource: "distro",
    llmProvider: "mock",
    apiImage: images.apiImage,
    natsImage: images.natsImage,
    // Built on this machine: no registry, no digest.
    allowImageTags: "true",
    sshDialTimeout: "120",
  };
}

function hostSecrets(): Record<string, string> {
  return {
    sshPrivateKey: readFileSync(host.keyPath, "utf8"),
    natsToken: "engine-up-nats-token-0123456789",
    jwtSecret: JWT_SECRET,
    llmApiKey: "unused-by-the-mock-provider",
  };
}

describe("pulumi up of an existing-server stack on a systemd test host", () => {
  let stack: EngineStack;
  let first: CommandResult;
  let second: CommandResult;
  const logins: number[] = [];

  beforeAll(async () => {
    stack = await createStack({
      name: "engine-up",
      // Two API settings from the stack config, to follow them onto the host
      // (and a rate limit that the load of the ops tests below stays under).
      config: {
        ...offlineHostConfig(),
        existingServer: host.address,
        disconnectPolicy: "cancel",
        llmMaxTokens: "2048",
        rateLimitRequests: "100000",
        // Backups to a bucket of the stack's own (any S3 endpoint).
        backupS3Endpoint: s3.endpoint,
        backupS3Bucket: s3.bucket,
      },
      secrets: {
        ...hostSecrets(),
        backupS3AccessKey: s3.accessKey,
        backupS3SecretKey: s3.secretKey,
        // Every scheduled backup encrypted on the host, to the operator.
        backupRecipients: BACKUP_KEY.recipient,
      },
    });
    byo = stack;
    logins.push(await deployLogins(root));
    first = await stack.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK], { timeoutMs: 1_500_000 });
    logins.push(await deployLogins(root));
    second = await stack.ok(["up", "--yes", "--skip-preview", "--expect-no-changes", "--policy-pack", POLICY_PACK]);
    logins.push(await deployLogins(root));
    console.log(
      `pulumi up on the test host: first ${(first.ms / 1000).toFixed(0)} s, second (no change) ${(second.ms / 1000).toFixed(1)} s`,
    );
  }, 1_800_000);

  it("learns the server's SSH host key on the first up, says so with its fingerprint, and pins it", async () => {
    const key = hostKeyNow();
    expect(first.stdout).toContain(
      `Trust on first use: ${host.address}:22 presented the SSH host key ${fingerprint(key)} (ssh-ed25519)`,
    );
    expect(first.stdout).toMatch(/platform-known-host\s+created/);
    const outputs = JSON.parse((await stack.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    expect(outputs.sshHostKey).toBe(key);
    // Learnt once: the second up neither learns again nor says so.
    expect(second.stdout).not.toContain("Trust on first use");
  });

  it("runs every host step, ending with /health through Caddy and TLS", async () => {
    for (const step of ["wait", "bootstrap", "caddy", "release", "stack", "verify"]) {
      expect(first.stdout, step).toMatch(new RegExp(`platform-host-${step}\\s+created`));
    }
    const outputs = JSON.parse((await stack.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    expect(JSON.parse(String(outputs.health))).toMatchObject({ status: "ok", nats: "connected", provider: "mock" });
    expect(outputs).toMatchObject({ ipv4: host.address, apiUrl: `https://${API_HOST}`, ipv6: null });
  });

  it("hands the stack's API settings to the running API instances, and leaves the others empty", async () => {
    for (const instance of ["api-1", "api-2"]) {
      const env = await run(
        root,
        `docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' ` +
          `$(docker ps -q --filter label=com.docker.compose.service=${instance})`,
      );
      expect(env.stdout, instance).toMatch(/^DISCONNECT_POLICY=cancel$/m);
      expect(env.stdout, instance).toMatch(/^LLM_MAX_TOKENS=2048$/m);
      expect(env.stdout, instance).toMatch(/^RATE_LIMIT_WINDOW=$/m);
    }
  });

  it("keeps the private key and the stack's secrets encrypted in the state", async () => {
    const state = (await stack.ok(["stack", "export"])).stdout;
    expect(state).toContain("platform-host-stack");
    for (const [name, value] of Object.entries(hostSecrets())) {
      const probe = name === "sshPrivateKey" ? value.split("\n")[1]! : value;
      expect(state.includes(probe), `${name} in plain text in the state`).toBe(false);
    }
    expect(state).toContain('"ciphertext"');
  });

  it("changes nothing on a second up, and opens no SSH connection for it", () => {
    expect(second.stdout).toMatch(/unchanged/);
    expect(second.stdout).not.toMatch(/updated|created|replaced/);
    expect(logins[2]! - logins[1]!).toBe(0);
  });

  it("logs in twice for a first up (before the bootstrap, and after it changed groups and sshd), never tripping fail2ban", async () => {
    expect(logins[1]! - logins[0]!).toBe(2);
    const jail = await run(root, "fail2ban-client status sshd");
    expect(jail.stdout).toMatch(/Total failed:\s+0/);
    expect(jail.stdout).toMatch(/Currently banned:\s+0/);
  });

  it("serves the API to this machine through Caddy, streaming an answer", async () => {
    const ca = readFileSync(join(host.root, CADDY_ROOT_CA));
    const options = { ca, connectTo: host.address };
    const health = await requestJson("GET", `https://${API_HOST}/health`, undefined, options);
    expect(health.status).toBe(200);
    const client = new ChatClient(
      `https://${API_HOST}`,
      await tokenFor("engine-up-user", { secret: JWT_SECRET }),
      options,
    );
    const id = await client.createConversation();
    const stream = await client.send(id, "one two three four");
    await stream.ended;
    expect(stream.status).toBe(200);
    expect(textOf(stream)).toContain("[mock provider");
  });

  it("says the certificate is pending, and succeeds, while the API's name does not point at the server", async () => {
    // The check of a Let's Encrypt stack, on this host: the name resolves to
    // nothing here (a new zone not yet delegated), so no certificate can come.
    const step = verifyStep(loadTemplates(), {
      deployUser: "deploy",
      deploySshKey: host.publicKey,
      adminCidrs: [`${host.gatewayAddress}/32`],
      sshPort: 22,
      apiHost: API_HOST,
      acmeEmail: "ops@example.com",
      packageSource: "distro",
      tlsIssuer: "letsencrypt",
    });
    const deploy = host.transport("deploy");
    try {
      const result = await deploy.exec(step.command, step.script);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/certificate pending: api\.example\.com resolves to nothing here/);
      expect(result.stdout).toMatch(/"status":"ok"/);
    } finally {
      await deploy.endSession();
    }
  });

  it("re-runs only the Caddy step (and the final check) when only Caddy's settings change", async () => {
    await stack.ok(["config", "set", "acmeEmail", "certificates@example.com"]);
    // The preview lists the steps it would change (a "same" step may be left out).
    const ops = Object.entries(await plannedOps(stack)).filter(([, op]) => op !== "same");
    // The final check runs again after any step it checks.
    expect(ops).toEqual([
      ["platform-host-caddy", "update"],
      ["platform-host-verify", "update"],
    ]);
    const applied = await stack.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
    expect(applied.stdout).toMatch(/platform-host-caddy\s+updated/);
    expect(applied.stdout).toMatch(/platform-host-verify\s+updated/);
    expect(applied.stdout).not.toMatch(/platform-host-(wait|bootstrap|release|stack)\s+updated/);
    const env = await run(root, "grep ^ACME_EMAIL= /etc/caddy/platform.env");
    expect(env.stdout.trim()).toBe("ACME_EMAIL=certificates@example.com");
  }, 600_000);

  it("lets CI find out in seconds whether it can reach SSH (scripts/ci/check-ssh-reach.sh)", async () => {
    const check = () =>
      spawnSync("bash", [join(ROOT, "scripts/ci/check-ssh-reach.sh"), stack.name], {
        env: stack.env,
        encoding: "utf8",
      });
    const reachable = check();
    expect(reachable.status, reachable.stderr).toBe(0);
    expect(reachable.stdout).toContain(
      `SSH at ${host.address}:22 answers, with the pinned host key ${fingerprint(hostKeyNow())}`,
    );
    // As for a runner outside adminCidrs: new SSH connections are dropped.
    const rule = "INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -j DROP";
    await run(root, `iptables -I ${rule}`);
    try {
      const blocked = check();
      expect(blocked.status).toBe(1);
      expect(blocked.stderr).toContain(
        `cannot reach SSH at ${host.address}:22 (10 s). Only the stack's adminCidrs can.`,
      );
    } finally {
      await run(root, `iptables -D ${rule}`);
    }
  }, 120_000);
});

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
  const bundleV2 = join(ROOT, ".tmp", `engine-up-v2-${process.pid}.cjs`);
  const broken = join(ROOT, ".tmp", `engine-up-broken-${process.pid}.cjs`);

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
  const backupsDir = join(ROOT, ".tmp", `engine-up-backups-${process.pid}`);
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

describe("a server whose SSH host key changed after the first up", () => {
  // A reinstall, as SSH sees it; or another machine answering at the address.
  let before: string;
  let after: string;
  beforeAll(async () => {
    before = hostKeyNow();
    const rekeyed = await run(root, "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A && systemctl restart ssh");
    expect(rekeyed.code, rekeyed.output).toBe(0);
    after = hostKeyNow();
  }, 120_000);

  it("makes the next up fail before any step runs, naming both fingerprints and how to accept the change", async () => {
    expect(after).not.toBe(before);
    const logins = await deployLogins(root);
    const env = (await run(root, `grep ^LOG_LEVEL= ${PRODUCTION_PATHS.appDir}/.env`)).stdout.trim();
    // A change that must run the stack step on the host.
    await byo!.ok(["config", "set", "logLevel", "warn"]);
    const refused = await byo!.run(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toContain(
      `Refused ${host.address}:22: it presented the SSH host key ${fingerprint(after)} (ssh-ed25519), ` +
        `but the key pinned for it is ${fingerprint(before)} (ssh-ed25519). Nothing was sent to it`,
    );
    expect(refused.stdout).toContain('pin it: pulumi config set sshHostKey "<the line in the server');
    // No login, and the host's settings are as they were.
    expect(await deployLogins(root)).toBe(logins);
    expect((await run(root, `grep ^LOG_LEVEL= ${PRODUCTION_PATHS.appDir}/.env`)).stdout.trim()).toBe(env);
  }, 600_000);

  it("makes CI's reach check fail in seconds, naming both fingerprints", () => {
    const check = spawnSync("bash", [join(ROOT, "scripts/ci/check-ssh-reach.sh"), byo!.name], {
      env: byo!.env,
      encoding: "utf8",
    });
    expect(check.status).toBe(1);
    expect(check.stderr).toContain(
      `SSH at ${host.address}:22 answers with the host key ${fingerprint(after)}, not the pinned ${fingerprint(before)}`,
    );
  }, 120_000);

  it("takes the new key once the operator pins it (config sshHostKey), and deploys", async () => {
    await byo!.ok(["config", "set", "sshHostKey", after]);
    const accepted = await byo!.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
    expect(accepted.stdout).toMatch(/platform-host-stack\s+updated/);
    expect(accepted.stdout).not.toContain("Trust on first use");
    expect((await run(root, `grep ^LOG_LEVEL= ${PRODUCTION_PATHS.appDir}/.env`)).stdout.trim()).toBe("LOG_LEVEL=warn");
    const outputs = JSON.parse((await byo!.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    expect(outputs.sshHostKey).toBe(after);
  }, 600_000);
});

describe("pulumi up of the Vultr program, against a local fake of the Vultr API, configuring the test host", () => {
  // The fake reports the test host's address for the new instance (and its
  // reserved IP): the engine creates every Vultr resource, then the host
  // steps run on the test host (set up above: nothing left to change there).
  let fake: FakeVultr;
  let stack: EngineStack;
  let up: CommandResult;

  beforeAll(async () => {
    fake = await startFakeVultr({
      instanceIpv4: host.address,
      reservedIpv4: host.address,
      pendingPolls: 1,
      // The new instance is the test host: its first boot installs the host key the user data carries.
      firstBoot: (userData) => applyFirstBootSshKeys(host.root, root, userData),
    });
    stack = await createStack({
      name: "vultr",
      config: {
        ...offlineHostConfig(),
        region: "ewr",
        hostname: "chat-platform",
        createDnsZone: "true",
        reservedIp: "true",
        backupsBucket: "true",
      },
      secrets: hostSecrets(),
      env: { VULTR_API_URL: fake.url, VULTR_API_KEY: fake.apiKey, VULTR_POLL_INTERVAL_MS: "100" },
    });
    up = await stack.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK], { timeoutMs: 900_000 });
    console.log(`pulumi up of the Vultr program (fake API, test host): ${(up.ms / 1000).toFixed(0)} s`);
  }, 1_200_000);

  afterAll(async () => {
    await stack?.remove();
    await fake?.close();
  });

  it("creates every Vultr resource as the program declares it", () => {
    const [instance] = [...fake.state.instances.values()];
    expect(fake.state.instances.size).toBe(1);
    expect(instance).toMatchObject({
      region: "ewr",
      plan: "vhp-2c-4gb-amd",
      os_id: 2284,
      hostname: "chat-platform",
      main_ip: host.address,
      firewall_group_id: [...fake.state.firewallGroups.keys()][0],
      tags: ["conversational-platform", `stack-${stack.name}`],
    });
    // Vultr takes user data base64-encoded.
    expect(Buffer.from(instance!.fake.userData, "base64").toString()).toContain("name: deploy");
    expect(instance!.fake.reservedIpId).toBe([...fake.state.reservedIps.keys()][0]);
    const rules = [...fake.state.firewallRules.values()].flatMap((group) => [...group.values()]) as Array<
      Record<string, unknown>
    >;
    expect(rules.map((r) => `${r.ip_type} ${r.port} ${r.subnet}/${r.subnet_size}`).sort()).toEqual(
      [`v4 22 ${host.gatewayAddress}/32`, "v4 80 0.0.0.0/0", "v6 80 ::/0", "v4 443 0.0.0.0/0", "v6 443 ::/0"].sort(),
    );
    const records = [...(fake.state.records.get("example.com")?.values() ?? [])];
    expect(records.map((r) => `${r.name} ${r.type} ${r.data}`).sort()).toEqual(
      [`api A ${host.address}`, `api AAAA ${instance!.v6_main_ip}`].sort(),
    );
    const [storage] = [...fake.state.objectStorages.values()];
    expect(storage).toMatchObject({ status: "active", label: `chat-platform-${stack.name}-backups` });
    expect(storage!.fake.tierId).toBeGreaterThan(0);
  });

  /** The first-boot host key pair the instance's user data carries (readable there for the server's life). */
  const firstBootKey = () => {
    const [instance] = [...fake.state.instances.values()];
    const userData = parseYaml(Buffer.from(instance!.fake.userData, "base64").toString()) as {
      ssh_keys: { ed25519_private: string; ed25519_public: string };
    };
    return { publicKey: userData.ssh_keys.ed25519_public, privateKey: userData.ssh_keys.ed25519_private };
  };

  it("boots the server with a host key the program made, its only one, so the first connection is pinned", () => {
    expect(up.stdout).not.toContain("Trust on first use");
    expect(up.stdout).toMatch(/platform-host-key\s+created/);
    expect(firstBootKey().publicKey).toMatch(/^ssh-ed25519 /);
  });

  it("replaces that key, which the user data keeps handing out, with one kept only in the state, and pins that", async () => {
    const outputs = JSON.parse((await stack.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    const now = hostKeyNow();
    expect(outputs.sshHostKey).toBe(now);
    expect(now).not.toBe(hostKeyLine(hostKeyOf(firstBootKey().publicKey)));
    expect(up.stdout).toMatch(/platform-server-host-key-install\s+created/);
    expect(up.stdout).toContain(`The SSH host key of ${host.address}:22 is now ${fingerprint(now)} (ssh-ed25519)`);
    // Still its only host key, and nothing left of the swap.
    const keys = await run(root, "ls /etc/ssh | grep ^ssh_host_");
    expect(keys.stdout.trim().split("\n")).toEqual(["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"]);
    // Whoever read the user data cannot pass for the server: a connection pinned to that key is refused.
    await expect(
      new SshTransport({
        host: host.address,
        port: 22,
        user: "deploy",
        privateKey: readFileSync(host.keyPath, "utf8"),
        hostKeys: [firstBootKey().publicKey],
        hostKeyFix: "none",
        dialTimeoutSeconds: 10,
      }).exec("true"),
    ).rejects.toThrow(HostKeyRefusedError);
    // The next up leaves the key alone.
    const preview = JSON.parse(
      (await stack.ok(["preview", "--json", "--show-sames", "--policy-pack", POLICY_PACK])).stdout,
    ) as PreviewJson;
    const keySteps = preview.steps.filter((p) => /platform-server-host-key-(pair|install)$/.test(p.urn));
    expect(keySteps.map((p) => `${urnName(p.urn)} ${p.op}`).sort()).toEqual([
      "platform-server-host-key-install same",
      "platform-server-host-key-pair same",
    ]);
  }, 300_000);

  it("keeps both host keys' private halves and the user data only encrypted in the state", async () => {
    const state = (await stack.ok(["stack", "export"])).stdout;
    const privateKey = readFileSync(join(host.root, "etc/ssh/ssh_host_ed25519_key"), "utf8");
    expect(state).toContain("platform-host-key");
    expect(state).toContain("platform-server-host-key-install");
    for (const key of [privateKey, firstBootKey().privateKey]) {
      // The lines after the first hold the key itself (the first is the same in every such key).
      const keyLines = key.trim().split("\n").slice(2, -1);
      expect(keyLines.length).toBeGreaterThan(1);
      for (const line of keyLines) expect(state.includes(line), "a host's private key in plain text").toBe(false);
    }
    // As the host-key step's script carries it.
    expect(state.includes(Buffer.from(privateKey).toString("base64").slice(0, 60))).toBe(false);
    expect(state.includes("ssh_deletekeys")).toBe(false);
  });

  it("configures the server it created and reports it healthy, with the backup keys as secrets", async () => {
    const outputs = JSON.parse((await stack.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    expect(outputs).toMatchObject({ ipv4: host.address, nameservers: ["ns1.vultr.com", "ns2.vultr.com"] });
    expect(JSON.parse(String(outputs.health))).toMatchObject({ status: "ok" });
    expect(outputs.backupAccessKey).toBe("[secret]");
    expect(outputs.backupSecretKey).toBe("[secret]");
  });

  it("renames the server without replacing anything", async () => {
    await stack.ok(["config", "set", "hostname", "chat-renamed"]);
    const preview = await stack.ok(["preview", "--json", "--policy-pack", POLICY_PACK]);
    const steps = (JSON.parse(preview.stdout) as PreviewJson).steps;
    const changed = steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${urnName(s.urn)}`);
    expect(changed.filter((c) => /^(replace|create-replacement|delete|delete-replaced|create) /.test(c))).toEqual([]);
    expect(changed).toContain("update platform-server-instance");
  });

  it("keeps an instance that never became active in state, and deletes it on destroy", async () => {
    // A second fake whose instances stay pending; the provider gives up after 1 s.
    const stuck = await startFakeVultr({ pendingPolls: 1_000_000 });
    const broken = await createStack({
      name: "stuck",
      config: { ...offlineHostConfig(), reservedIp: "false", createDnsZone: "false" },
      secrets: hostSecrets(),
      env: {
        VULTR_API_URL: stuck.url,
        VULTR_API_KEY: stuck.apiKey,
        VULTR_POLL_INTERVAL_MS: "50",
        VULTR_WAIT_TIMEOUT_MS: "1000",
      },
    });
    try {
      const failed = await broken.run(["up", "--yes", "--skip-preview"]);
      expect(failed.code).not.toBe(0);
      expect(failed.stdout).toMatch(/Instance \S+ was created but is not ready/);
      expect(stuck.state.instances.size).toBe(1);
      await broken.ok(["destroy", "--yes", "--skip-preview"]);
      expect(stuck.state.instances.size).toBe(0);
    } finally {
      await broken.remove();
      await stuck.close();
    }
  }, 300_000);

  it("deletes every Vultr resource on destroy", async () => {
    await stack.ok(["destroy", "--yes", "--skip-preview"], { timeoutMs: 600_000 });
    expect(fake.state.instances.size).toBe(0);
    expect(fake.state.firewallGroups.size).toBe(0);
    expect(fake.state.sshKeys.size).toBe(0);
    expect(fake.state.reservedIps.size).toBe(0);
    expect(fake.state.domains.size).toBe(0);
    expect(fake.state.objectStorages.size).toBe(0);
  }, 600_000);
});
