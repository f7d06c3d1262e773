// `pulumi up` for real: the production program, run by the engine built from
// Go modules, on an existing-server stack pointed at a systemd test host with
// a Docker engine. Every host step runs over SSH: the bootstrap, Caddy (its
// internal CA: the test host is offline), the release, the compose stack and
// the check through Caddy. Then: a second `up` changes nothing, a change that
// touches only Caddy's settings re-runs only the Caddy step, and the API
// streams an answer through Caddy to this machine.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeSSH } from "node-ssh";
import { ChatClient, textOf } from "../harness/chat-client.js";
import { requestJson } from "../harness/http-client.js";
import { loadLocalImages } from "../harness/host-images.js";
import {
  createStack,
  urnName,
  type CommandResult,
  type EngineStack,
  type PreviewJson,
} from "../harness/pulumi-engine.js";
import { startSystemdHost, type SystemdHost } from "../harness/systemd-host.js";
import { tokenFor } from "../harness/tokens.js";
import { verifyStep } from "../../infra/host/steps.js";

const ROOT = join(import.meta.dirname, "../..");
const POLICY_PACK = join(ROOT, "dist/policy-pack");
const API_HOST = "api.example.com";
const JWT_SECRET = "engine-up-jwt-secret-0123456789abcdef";
const CADDY_ROOT_CA = "var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt";

async function run(ssh: NodeSSH, command: string) {
  const result = await ssh.execCommand(command);
  return { ...result, output: `${result.stdout}\n${result.stderr}` };
}

/** Logins of the deploy user that sshd accepted so far. */
async function deployLogins(root: NodeSSH): Promise<number> {
  const log = await run(root, "journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey for deploy' || true");
  return Number(log.stdout.trim());
}

async function plannedOps(stack: EngineStack): Promise<Record<string, string>> {
  const result = await stack.ok(["preview", "--json", "--policy-pack", POLICY_PACK]);
  const json = JSON.parse(result.stdout) as PreviewJson;
  return Object.fromEntries(
    json.steps.filter((s) => s.newState?.type === "pulumi-nodejs:dynamic/host:Step").map((s) => [urnName(s.urn), s.op]),
  );
}

describe("pulumi up of an existing-server stack on a systemd test host", () => {
  let host: SystemdHost;
  let root: NodeSSH;
  let stack: EngineStack;
  let first: CommandResult;
  let second: CommandResult;
  const logins: number[] = [];

  beforeAll(async () => {
    host = await startSystemdHost("engine-up", { docker: true, subnet: 216 });
    root = await host.connect("root");
    const images = await loadLocalImages(host, root);
    // What cloud-init does on a Vultr instance, with the script users run on their own server.
    const script = readFileSync(join(ROOT, "templates/host/create-deploy-user.sh"), "utf8");
    const created = await root.execCommand(`DEPLOY_USER=deploy DEPLOY_SSH_KEY='${host.publicKey}' bash -s`, {
      stdin: script,
    });
    if (created.code !== 0) throw new Error(`create-deploy-user.sh: ${created.stdout}\n${created.stderr}`);

    stack = await createStack({
      name: "engine-up",
      config: {
        existingServer: host.address,
        domain: "example.com",
        apiSubdomain: "api",
        acmeEmail: "ops@example.com",
        adminCidrs: [`${host.gatewayAddress}/32`],
        sshPublicKey: host.publicKey,
        // Offline: Caddy's own CA, and Debian's packages (the host reaches only its archive).
        tlsIssuer: "internal",
        packageSource: "distro",
        llmProvider: "mock",
        apiImage: images.apiImage,
        natsImage: images.natsImage,
        sshDialTimeout: "120",
      },
      secrets: {
        sshPrivateKey: readFileSync(host.keyPath, "utf8"),
        natsToken: "engine-up-nats-token-0123456789",
        jwtSecret: JWT_SECRET,
        llmApiKey: "unused-by-the-mock-provider",
      },
    });
    logins.push(await deployLogins(root));
    first = await stack.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK], { timeoutMs: 1_500_000 });
    logins.push(await deployLogins(root));
    second = await stack.ok(["up", "--yes", "--skip-preview", "--expect-no-changes", "--policy-pack", POLICY_PACK]);
    logins.push(await deployLogins(root));
    console.log(
      `pulumi up on the test host: first ${(first.ms / 1000).toFixed(0)} s, second (no change) ${(second.ms / 1000).toFixed(1)} s`,
    );
  }, 1_800_000);

  afterAll(async () => {
    root?.dispose();
    await stack?.remove();
    await host?.stop();
  }, 120_000);

  it("runs every host step, ending with /health through Caddy and TLS", async () => {
    for (const step of ["wait", "bootstrap", "caddy", "release", "stack", "verify"]) {
      expect(first.stdout, step).toMatch(new RegExp(`platform-host-${step}\\s+created`));
    }
    const outputs = JSON.parse((await stack.ok(["stack", "output", "--json"])).stdout) as Record<string, unknown>;
    expect(JSON.parse(String(outputs.health))).toMatchObject({ status: "ok", nats: "connected", provider: "mock" });
    expect(outputs).toMatchObject({ ipv4: host.address, apiUrl: `https://${API_HOST}`, ipv6: null });
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
    const step = verifyStep({
      deployUser: "deploy",
      deploySshKey: host.publicKey,
      adminCidrs: [`${host.gatewayAddress}/32`],
      apiHost: API_HOST,
      acmeEmail: "ops@example.com",
      packageSource: "distro",
      tlsIssuer: "letsencrypt",
    });
    const deploy = await host.connect("deploy");
    try {
      const result = await deploy.execCommand(step.command, { stdin: step.script });
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/certificate pending: api\.example\.com resolves to nothing here/);
      expect(result.stdout).toMatch(/"status":"ok"/);
    } finally {
      deploy.dispose();
    }
  });

  it("re-runs only the Caddy step when only Caddy's settings change", async () => {
    await stack.ok(["config", "set", "acmeEmail", "certificates@example.com"]);
    // The preview lists the steps it would change (a "same" step may be left out).
    const ops = Object.entries(await plannedOps(stack)).filter(([, op]) => op !== "same");
    expect(ops).toEqual([["platform-host-caddy", "update"]]);
    const applied = await stack.ok(["up", "--yes", "--skip-preview", "--policy-pack", POLICY_PACK]);
    expect(applied.stdout).toMatch(/platform-host-caddy\s+updated/);
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
    expect(reachable.stdout).toContain(`SSH at ${host.address}:22 answers`);
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
