// The host steps: their order under Pulumi (nothing before SSH is up), what
// re-runs when one file changes, and how secrets travel.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { renderEnvFile, renderTemplate } from "../../infra/host/render.js";
import { hostSteps, releaseId, type HostSettings, type StackSettings } from "../../infra/host/steps.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { REALISTIC_CONFIG, runProgram, SECRET_SIG, SIG_KEY, type ProgramRun } from "./pulumi-harness.js";

const HOST: HostSettings = {
  deployUser: "deploy",
  deploySshKey: REALISTIC_CONFIG.sshPublicKey,
  adminCidrs: ["203.0.113.7/32"],
  apiHost: "api.example.com",
  acmeEmail: "ops@example.com",
  packageSource: "official",
};
const STACK: StackSettings = {
  apiImage: "node:20-bookworm-slim",
  natsImage: "nats:2.10-alpine",
  natsToken: REALISTIC_CONFIG.natsToken,
  jwtSecret: REALISTIC_CONFIG.jwtSecret,
  llmProvider: "anthropic",
  llmApiKey: REALISTIC_CONFIG.llmApiKey,
  openaiBaseUrl: "",
  logLevel: "info",
  rateLimitRequests: 60,
  rateLimitWindow: "1m",
};
const BUNDLE = Buffer.from("console.log('bundle v1')\n");
const steps = (templates = loadTemplates(), bundle = BUNDLE, stack = STACK) =>
  hostSteps(templates, HOST, stack, bundle, "/tmp/api.cjs");
const hashes = (list: ReturnType<typeof steps>) => Object.fromEntries(list.map((s) => [s.name, s.hash]));
const changedSteps = (a: ReturnType<typeof steps>, b: ReturnType<typeof steps>) =>
  a.filter((s, i) => s.hash !== b[i]!.hash).map((s) => s.name);

describe("host steps", () => {
  it("run in order: wait for the host, bootstrap, Caddy, release, stack, verify", () => {
    expect(steps().map((s) => s.name)).toEqual(["wait", "bootstrap", "caddy", "release", "stack", "verify"]);
  });

  it("are scripts that pass shellcheck", () => {
    for (const step of steps()) {
      // SC2034: the shared prelude sets `changed` also for steps that never read it.
      const result = spawnSync("shellcheck", ["--shell=bash", "--exclude=SC2034", "-"], {
        input: step.script,
        encoding: "utf8",
      });
      expect(result.status, `${step.name}:\n${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  it("re-run only the Caddy step when only the Caddyfile changes", () => {
    const templates = loadTemplates();
    const changed = {
      ...templates,
      caddyfile: templates.caddyfile.replace("health_interval 1s", "health_interval 2s"),
    };
    expect(changedSteps(steps(templates), steps(changed))).toEqual(["caddy"]);
  });

  it("re-run the release and stack steps (and nothing else) for a new bundle", () => {
    expect(changedSteps(steps(), steps(undefined, Buffer.from("console.log('bundle v2')\n")))).toEqual([
      "release",
      "stack",
    ]);
  });

  it("re-run only the stack step when a secret changes, and only the bootstrap for a new sysctl file", () => {
    expect(
      changedSteps(
        steps(),
        steps(undefined, undefined, { ...STACK, jwtSecret: "another-jwt-secret-0123456789abcdef" }),
      ),
    ).toEqual(["stack"]);
    const templates = loadTemplates();
    const changed = {
      ...templates,
      bootstrap: {
        ...templates.bootstrap,
        "sysctl/99-platform.conf": templates.bootstrap["sysctl/99-platform.conf"] + "# note\n",
      },
    };
    expect(changedSteps(steps(templates), steps(changed))).toEqual(["bootstrap"]);
  });

  it("are stable: the same inputs give the same hashes", () => {
    expect(hashes(steps())).toEqual(hashes(steps()));
  });

  it("keep secrets out of every step but the stack step, and out of all command lines", () => {
    const secrets = [STACK.natsToken, STACK.jwtSecret, STACK.llmApiKey];
    for (const step of steps()) {
      expect(step.command).toMatch(/^(sudo )?bash -s$/);
      const decoded =
        step.script +
        [...step.script.matchAll(/'([A-Za-z0-9+/=]{16,})'/g)]
          .map((m) => Buffer.from(m[1]!, "base64").toString())
          .join("\n");
      const holds = secrets.some((s) => decoded.includes(s));
      expect(holds, step.name).toBe(step.name === "stack");
      expect(step.secret, step.name).toBe(step.name === "stack");
    }
  });

  it("name the release after the bundle's hash and upload it beside the releases", () => {
    const release = steps().find((s) => s.name === "release")!;
    expect(release.upload).toEqual({
      localPath: "/tmp/api.cjs",
      remotePath: `/opt/conversational-platform/releases/upload-${releaseId(BUNDLE)}.cjs`,
    });
  });
});

describe("the strict renderer", () => {
  it("fails on a missing value and on a line break", () => {
    expect(() => renderTemplate("t", "a={{A}} b={{B}}", { A: "1" })).toThrow("t: no value for {{B}}");
    expect(() => renderTemplate("t", "a={{A}}", { A: "1\nINJECTED=1" })).toThrow(/line break/);
  });

  it("refuses env values that would need quoting", () => {
    expect(() => renderEnvFile("stack.env", "X={{X}}", { X: "has space" })).toThrow(/cannot hold unquoted/);
    expect(() => renderEnvFile("stack.env", "X={{X}}", { X: "$HOME" })).toThrow(/cannot hold unquoted/);
    expect(renderEnvFile("stack.env", "X={{X}}", { X: "abc+/=" })).toBe("X=abc+/=");
  });

  it("renders every placeholder of the shipped templates", () => {
    const env = readFileSync(join(import.meta.dirname, "../../templates/stack/stack.env"), "utf8");
    const stackStep = steps().find((s) => s.name === "stack")!;
    const files = [...stackStep.script.matchAll(/'([A-Za-z0-9+/=]{16,})'/g)].map((m) =>
      Buffer.from(m[1]!, "base64").toString(),
    );
    const rendered = files.find((f) => f.includes("API_RELEASE="))!;
    expect(rendered).toContain(`API_RELEASE=releases/${releaseId(BUNDLE)}`);
    expect(rendered).not.toMatch(/\{\{[A-Z_]+\}\}/);
    expect(env.match(/\{\{[A-Z_]+\}\}/g)!.length).toBeGreaterThan(10);
  });
});

describe("under Pulumi", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram(REALISTIC_CONFIG);
  });
  const command = (step: string) => run.resources.find((r) => r.name === `chat-platform-host-${step}`)!;

  it("chains every step after the one before, starting with the wait for SSH", () => {
    const chain = ["wait", "bootstrap", "caddy", "release-upload", "release", "stack", "verify"];
    // The first waits for the instance; each later one for the step before.
    expect(command("wait").dependsOn).toEqual(["chat-platform-server-instance"]);
    for (const [i, step] of chain.entries()) {
      if (i > 0) expect(command(step).dependsOn, step).toContain(`chat-platform-host-${chain[i - 1]}`);
      const later = chain.slice(i + 1).map((s) => `chat-platform-host-${s}`);
      expect(
        command(step).dependsOn.some((d) => later.includes(d)),
        step,
      ).toBe(false);
    }
    // The whole connection travels as a secret (it holds the private key).
    const connection = command("wait").inputs.connection.value;
    expect(connection).toMatchObject({ host: "192.0.2.50", user: "deploy", dialErrorLimit: -1 });
  });

  it("triggers each step with its script's hash", () => {
    for (const step of ["wait", "bootstrap", "caddy", "release", "stack", "verify"]) {
      const triggers = command(step).inputs.triggers;
      const values = Array.isArray(triggers) ? triggers : triggers.value;
      expect(values, step).toHaveLength(1);
      expect(values[0]).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("sends secrets only inside secret inputs", () => {
    const isSecret = (v: unknown) =>
      typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
    const secrets = [
      REALISTIC_CONFIG.natsToken,
      REALISTIC_CONFIG.jwtSecret,
      REALISTIC_CONFIG.llmApiKey,
      REALISTIC_CONFIG.sshPrivateKey,
    ];
    for (const r of run.resources.filter((r) => r.type.startsWith("command:"))) {
      const connection = r.wire.connection as Record<string, unknown>;
      expect(isSecret(connection) || isSecret(connection.privateKey), `${r.name} connection`).toBe(true);
      for (const [key, value] of Object.entries(r.wire)) {
        if (isSecret(value)) continue;
        const text = JSON.stringify(value);
        for (const s of secrets) expect(text.includes(s), `${r.name}.${key} holds a secret in plain text`).toBe(false);
      }
    }
    expect(isSecret(command("stack").wire.stdin), "stack stdin").toBe(true);
    const triggers = command("stack").wire.triggers as unknown[];
    expect(isSecret(triggers) || triggers.every(isSecret), "stack triggers").toBe(true);
    expect(isSecret(command("caddy").wire.stdin), "caddy stdin").toBe(false);
  });

  it("gives the instance cloud-init that creates the deploy user with its key only", () => {
    const instance = run.one("vultr:index/instance:Instance");
    expect(instance.inputs.userData).toContain("name: deploy");
    expect(instance.inputs.userData).toContain(REALISTIC_CONFIG.sshPublicKey);
    expect(instance.inputs.userData).not.toContain("PRIVATE KEY");
  });
});
