// A systemd test host with a Docker engine, an S3 endpoint for its backups,
// the local images loaded, and the production program deployed on it by
// `pulumi up` of an existing-server stack (`byo`): what the test files of
// test/host/ that need a running platform share. The first file to ask
// builds it (about 10 minutes); the next ones in the same run reuse it (the
// system project runs its files in one worker without isolation,
// vitest.config.ts), and it is torn down once, when that worker ends.
//
// A file that changes the host in a way the others must not see (its SSH
// host key, the settings another stack deployed) says how to undo it with
// resetBeforeNextFile; the next file's deployedHost() does that first.
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostKeyLine, hostKeyOf } from "../../infra/host/host-keys.js";
import type { SshTransport } from "../../infra/host/runner/ssh.js";
import { generateKeyPair } from "../../scripts/backup/encryption.js";
import { startAlertSink, type AlertSink } from "./alert-sink.js";
import { run } from "./host-exec.js";
import { loadLocalImages } from "./host-images.js";
import {
  createStack,
  POLICY_PACK,
  urnName,
  type CommandResult,
  type EngineStack,
  type PreviewJson,
} from "./pulumi-engine.js";
import { startFakeS3, type FakeS3 } from "./s3.js";
import { startSystemdHost, type SystemdHost } from "./systemd-host.js";
import { atWorkerEnd } from "./worker-end.js";

export const ROOT = join(import.meta.dirname, "../..");
export { POLICY_PACK };
export const API_HOST = "api.example.com";
export const JWT_SECRET = "engine-up-jwt-secret-0123456789abcdef";
export const CADDY_ROOT_CA = "var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt";
/** The operator's age key pair: the stack and the host get the recipient, only the operator (the tests) the identity. */
export const BACKUP_KEY = await generateKeyPair();
/** For a test file's beforeAll: building the host and the first `up` take up to half an hour on a loaded machine. */
export const DEPLOY_TIMEOUT_MS = 2_400_000;

export interface DeployedHost {
  host: SystemdHost;
  root: SshTransport;
  /** The stack's backup bucket: an S3 endpoint on this machine, where the test host reaches it. */
  s3: FakeS3;
  /** Where the stack sends its alerts (webhook, e-mail, heartbeat): receivers on this machine, as s3. */
  alerts: AlertSink;
  images: { apiImage: string; natsImage: string };
  /** The existing-server stack deployed on the host. */
  byo: EngineStack;
  /** Its first `up`, and a second one that changed nothing. */
  first: CommandResult;
  second: CommandResult;
  /** Logins of the deploy user sshd accepted before the first up, after it, and after the second. */
  logins: number[];
}

let deployed: Promise<DeployedHost> | undefined;
let current: DeployedHost | undefined;
const resets: Array<() => Promise<void>> = [];

/** The deployed host: built by the first call of the run, then the same one, reset by what the file before left. */
export async function deployedHost(): Promise<DeployedHost> {
  deployed ??= deploy();
  const ready = await deployed;
  for (const reset of resets.splice(0)) await reset();
  return ready;
}

/** Undoes, before the next file starts, what this one changed (runs only if another file follows). */
export function resetBeforeNextFile(reset: () => Promise<void>): void {
  resets.push(reset);
}

async function deploy(): Promise<DeployedHost> {
  // Not 216: a Docker test host that a killed run of the single host test
  // this fixture replaced left behind keeps that subnet's address on its link.
  const host = await startSystemdHost("deployed", { docker: true, subnet: 217 });
  atWorkerEnd(() => host.stop());
  const s3 = await startFakeS3({ listen: `${host.gatewayAddress}:0` });
  atWorkerEnd(() => s3.stop());
  const root = host.transport("root");
  atWorkerEnd(() => root.endSession());
  const alerts = await startAlertSink(host.gatewayAddress);
  atWorkerEnd(() => alerts.stop());
  await alerts.installCa(root);
  const images = await loadLocalImages(host, root);
  // What cloud-init does on a Vultr instance, with the script users run on their own server.
  const script = readFileSync(join(ROOT, "templates/host/create-deploy-user.sh"), "utf8");
  const created = await root.exec(`DEPLOY_USER=deploy DEPLOY_SSH_KEY='${host.publicKey}' bash -s`, script);
  if (created.code !== 0) throw new Error(`create-deploy-user.sh: ${created.stdout}\n${created.stderr}`);
  current = { host, root, s3, alerts, images } as DeployedHost;

  const byo = await createStack({
    name: "byo",
    // Two API settings from the stack config, to follow them onto the host
    // (and a rate limit that the load of the ops tests stays under).
    config: {
      ...offlineHostConfig(),
      existingServer: host.address,
      disconnectPolicy: "cancel",
      llmMaxTokens: "2048",
      rateLimitRequests: "100000",
      // Backups to a bucket of the stack's own (any S3 endpoint).
      backupS3Endpoint: s3.endpoint,
      backupS3Bucket: s3.bucket,
      // Alerts by e-mail too, to the sink (no login, so no TLS needed).
      alertEmailTo: "ops@example.com",
      alertEmailFrom: "alerts@example.com",
      alertSmtpHost: alerts.smtp,
      alertSmtpRequireTls: "false",
    },
    secrets: {
      ...hostSecrets(),
      backupS3AccessKey: s3.accessKey,
      backupS3SecretKey: s3.secretKey,
      // Every scheduled backup encrypted on the host, to the operator.
      backupRecipients: BACKUP_KEY.recipient,
      // The team's webhook and the dead man's switch, both to this machine.
      alertWebhookUrl: `${alerts.url}/team`,
      alertHeartbeatUrl: `${alerts.url}/heartbeat`,
    },
  });
  atWorkerEnd(() => byo.remove());
  const logins = [await deployLogins(root)];
  const first = await byo.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK], { timeoutMs: 1_500_000 });
  logins.push(await deployLogins(root));
  const second = await byo.ok(["up", "--yes", "--skip-preview", "--expect-no-changes", "--policy-pack", POLICY_PACK]);
  logins.push(await deployLogins(root));
  console.log(
    `pulumi up on the test host: first ${(first.ms / 1000).toFixed(0)} s, second (no change) ${(second.ms / 1000).toFixed(1)} s`,
  );
  current = { host, root, s3, alerts, images, byo, first, second, logins };
  return current;
}

function deployedSoFar(): DeployedHost {
  if (!current) throw new Error("no deployed host yet: call deployedHost() in the file's beforeAll");
  return current;
}

/** Logins of the deploy user that sshd accepted so far. */
export async function deployLogins(root: SshTransport): Promise<number> {
  const log = await run(root, "journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey for deploy' || true");
  return Number(log.stdout.trim());
}

/** The host key the test host's sshd presents now (the pinned form: type and key). */
export function hostKeyNow(): string {
  const { host } = deployedSoFar();
  return hostKeyLine(hostKeyOf(readFileSync(join(host.root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8")));
}
export const fingerprint = (line: string) => hostKeyOf(line).fingerprint;

/** The host steps a preview of `stack` would run, by name, with what it would do to each. */
export async function plannedOps(stack: EngineStack): Promise<Record<string, string>> {
  const result = await stack.ok(["preview", "--json", "--policy-pack", POLICY_PACK]);
  const json = JSON.parse(result.stdout) as PreviewJson;
  return Object.fromEntries(
    json.steps.filter((s) => s.newState?.type === "pulumi-nodejs:dynamic/host:Step").map((s) => [urnName(s.urn), s.op]),
  );
}

/** The config every stack on the test host shares: the host is offline and its images local. */
export function offlineHostConfig(): Record<string, string | string[]> {
  const { host, images } = deployedSoFar();
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

export function hostSecrets(): Record<string, string> {
  const { host } = deployedSoFar();
  return {
    sshPrivateKey: readFileSync(host.keyPath, "utf8"),
    natsToken: "engine-up-nats-token-0123456789",
    jwtSecret: JWT_SECRET,
    llmApiKey: "unused-by-the-mock-provider",
  };
}

/**
 * The host's SSH host keys as they are now; the function returned puts them
 * back (the others deleted) and restarts sshd, for a file that changes them.
 */
export function savedHostKeys(): () => Promise<void> {
  const { host, root } = deployedSoFar();
  const dir = join(host.root, "etc/ssh");
  const isHostKey = (file: string) => file.startsWith("ssh_host_");
  const saved = readdirSync(dir)
    .filter(isHostKey)
    .map((file) => ({ file, content: readFileSync(join(dir, file)), mode: statSync(join(dir, file)).mode & 0o777 }));
  return async () => {
    for (const file of readdirSync(dir).filter(isHostKey)) rmSync(join(dir, file));
    for (const { file, content, mode } of saved) writeFileSync(join(dir, file), content, { mode });
    const restarted = await run(root, "systemctl restart ssh");
    if (restarted.code !== 0) throw new Error(`restarting sshd with the saved host keys: ${restarted.output}`);
  };
}

/** Runs the named host steps of the `byo` stack again, to put back on the host what another stack changed. */
export async function redeployByoSteps(steps: string[]): Promise<void> {
  const { byo } = deployedSoFar();
  const state = JSON.parse((await byo.ok(["stack", "export"])).stdout) as {
    deployment: { resources?: Array<{ urn: string }> };
  };
  const urns = (state.deployment.resources ?? []).map((r) => r.urn).filter((urn) => steps.includes(urnName(urn)));
  if (urns.length !== steps.length)
    throw new Error(`the byo stack holds ${urns.length} of the steps ${steps.join(", ")}`);
  await byo.ok(
    ["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK, ...urns.flatMap((urn) => ["--replace", urn])],
    {
      timeoutMs: 1_200_000,
    },
  );
}
