// `pulumi up` for real: the production program, run by the engine built from
// Go modules, on an existing-server stack pointed at a systemd test host with
// a Docker engine (test/harness/deployed-host.ts deploys it). Every host step
// runs over SSH: the bootstrap, Caddy (its internal CA: the test host is
// offline), the release, the compose stack and the check through Caddy.
// Then: a second `up` changes nothing, a change that touches only Caddy's
// settings re-runs only the Caddy step, and the API streams an answer
// through Caddy to this machine.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ChatClient, textOf } from "../../scripts/loopback/chat-client.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import type { SshTransport } from "../../infra/host/runner/ssh.js";
import { verifyStep } from "../../infra/host/steps.js";
import { loadTemplates } from "../../infra/host/templates.js";
import {
  API_HOST,
  CADDY_ROOT_CA,
  DEPLOY_TIMEOUT_MS,
  deployedHost,
  fingerprint,
  hostKeyNow,
  hostSecrets,
  JWT_SECRET,
  plannedOps,
  POLICY_PACK,
  ROOT,
} from "../harness/deployed-host.js";
import { run } from "../harness/host-exec.js";
import type { CommandResult, EngineStack } from "../harness/pulumi-engine.js";
import type { SystemdHost } from "../harness/systemd-host.js";

let host: SystemdHost;
let root: SshTransport;

describe("pulumi up of an existing-server stack on a systemd test host", () => {
  let stack: EngineStack;
  let first: CommandResult;
  let second: CommandResult;
  let logins: number[];

  // The first up and the second ran when the deployed host was built (by this file or one before it).
  beforeAll(async () => {
    ({ host, root, byo: stack, first, second, logins } = await deployedHost());
  }, DEPLOY_TIMEOUT_MS);

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

  it("runs the API instances on the suite's Node (Node 24, the local image's)", async () => {
    for (const instance of ["api-1", "api-2"]) {
      const version = await run(
        root,
        `docker exec $(docker ps -q --filter label=com.docker.compose.service=${instance}) node -p process.version`,
      );
      expect(version.code, version.output).toBe(0);
      expect(version.stdout.trim(), instance).toBe(process.version);
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
