// The host steps as data: their order, what re-runs when one file changes,
// and how secrets travel. The engine runs them in test/host/existing-server-up.test.ts.
import { renderAlertmanagerConfig } from "../../infra/monitoring/alertmanager-config.js";
import { natsCredentials } from "../../infra/host/nats-users.js";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderEnvFile, renderTemplate } from "../../infra/host/render.js";
import {
  backupsStep,
  hostSteps,
  monitoringStep,
  releaseId,
  type HostSettings,
  type MonitoringStepSettings,
  type StackSettings,
} from "../../infra/host/steps.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { KEYS, REALISTIC_SECRETS } from "../harness/stack-configs.js";

const HOST: HostSettings = {
  deployUser: "deploy",
  deploySshKey: KEYS.publicKey,
  adminCidrs: ["203.0.113.7/32"],
  sshPort: 22,
  apiHost: "api.example.com",
  acmeEmail: "ops@example.com",
  packageSource: "official",
  tlsIssuer: "letsencrypt",
};
const STACK: StackSettings = {
  apiImage: "node:24-bookworm-slim",
  natsImage: "nats:2.10-alpine",
  natsToken: REALISTIC_SECRETS.natsToken,
  jwtSecret: REALISTIC_SECRETS.jwtSecret,
  llmProvider: "anthropic",
  llmApiKey: REALISTIC_SECRETS.llmApiKey,
  apiSettings: { LOG_LEVEL: "info" },
};
const BUNDLE = Buffer.from("console.log('bundle v1')\n");
const MONITORING: MonitoringStepSettings = { retention: "15d", retentionSize: "1GB" };
const steps = (templates = loadTemplates(), bundle = BUNDLE, stack = STACK, monitoring = MONITORING) =>
  hostSteps(
    templates,
    HOST,
    stack,
    bundle,
    "/tmp/api.cjs",
    backupsStep(templates, { schedule: "hourly", keep: 48 }, Buffer.from("backup"), "/tmp/backup.cjs"),
    monitoring,
  );
const hashes = (list: ReturnType<typeof steps>) => Object.fromEntries(list.map((s) => [s.name, s.hash]));
const changedSteps = (a: ReturnType<typeof steps>, b: ReturnType<typeof steps>) =>
  a.filter((s, i) => s.hash !== b[i]!.hash).map((s) => s.name);

describe("host steps", () => {
  it("run in order: wait for the host, bootstrap, Caddy, release, stack, backups, monitoring, verify", () => {
    expect(steps().map((s) => s.name)).toEqual([
      "wait",
      "bootstrap",
      "caddy",
      "release",
      "stack",
      "backups",
      "monitoring",
      "verify",
    ]);
  });

  it("are scripts that pass shellcheck", () => {
    for (const step of steps()) {
      // -x from the repository: each step script sources templates/host/lib.sh.
      const result = spawnSync("shellcheck", ["-x", "--shell=bash", "-"], {
        cwd: join(import.meta.dirname, "../.."),
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

  it("re-run only the stack step, which applies it to the running server, when only the NATS config changes", () => {
    const templates = loadTemplates();
    const changed = { ...templates, natsConf: templates.natsConf.replace("max_payload: 1MB", "max_payload: 2MB") };
    expect(changed.natsConf).not.toBe(templates.natsConf);
    expect(changedSteps(steps(templates), steps(changed))).toEqual(["stack"]);
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

  it("re-run only the monitoring step when the retention or a monitoring file changes", () => {
    expect(changedSteps(steps(), steps(undefined, undefined, undefined, { ...MONITORING, retention: "30d" }))).toEqual([
      "monitoring",
    ]);
    const templates = loadTemplates();
    const changed = {
      ...templates,
      monitoring: { ...templates.monitoring, "blackbox.yml": templates.monitoring["blackbox.yml"] + "# note\n" },
    };
    expect(changedSteps(steps(templates), steps(changed))).toEqual(["monitoring"]);
  });

  it("are stable: the same inputs give the same hashes", () => {
    expect(hashes(steps())).toEqual(hashes(steps()));
  });

  it("keep secrets out of every step but the stack step, and out of all command lines", () => {
    const secrets = [STACK.natsToken, STACK.jwtSecret, STACK.llmApiKey];
    for (const step of steps()) {
      expect(step.command).toBe(step.name === "wait" ? "bash -s" : `sudo bash -s -- ${step.name}`);
      const decoded =
        step.script +
        [...step.script.matchAll(/'([A-Za-z0-9+/=]{16,})'/g)]
          .map((m) => Buffer.from(m[1]!, "base64").toString())
          .join("\n");
      const holds = secrets.some((s) => decoded.includes(s));
      expect(holds, step.name).toBe(step.name === "stack");
      // The NATS secret itself never leaves this machine: the host gets the
      // passwords made from it, and nats-server only their hashes.
      expect(decoded.includes(STACK.natsToken), step.name).toBe(false);
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

describe("the backups step", () => {
  const bucket = {
    endpoint: "https://ewr1.vultrobjects.com",
    bucket: "chat-backups",
    accessKey: "AKIAEXAMPLEKEY",
    secretKey: "bucket-secret-example",
  };
  const decoded = (script: string) =>
    [...script.matchAll(/'([A-Za-z0-9+/=]{16,})'/g)].map((m) => Buffer.from(m[1]!, "base64").toString()).join("\n");
  const backups = (settings: Parameters<typeof backupsStep>[1], bundle = Buffer.from("backup v1")) =>
    backupsStep(loadTemplates(), settings, bundle, "/tmp/backup.cjs");

  it("keeps backups on the host without a bucket, holding no secret", () => {
    const step = backups({ schedule: "hourly", keep: 48 });
    expect(step.secret).toBe(false);
    expect(step.script).toContain("BUCKET_ENV_B64=''");
    expect(step.description).toContain("kept on the host (no bucket)");
    expect(step.upload).toEqual({
      localPath: "/tmp/backup.cjs",
      remotePath: "/opt/conversational-platform/upload-backup.cjs",
    });
  });

  it("hands a bucket's keys to the host only inside a secret step, in the env file the backup container reads", () => {
    const step = backups({ schedule: "*:0/30", keep: 10, bucket });
    expect(step.secret).toBe(true);
    expect(decoded(step.script)).toContain("BACKUP_S3_SECRET_KEY=bucket-secret-example\nBACKUP_KEEP=10");
    expect(step.script).toContain("SCHEDULE='*:0/30'");
  });

  it("runs again for a new schedule or bundle, and only then", () => {
    const one = backups({ schedule: "hourly", keep: 48 });
    expect(backups({ schedule: "hourly", keep: 48 }).hash).toBe(one.hash);
    expect(backups({ schedule: "daily", keep: 48 }).hash).not.toBe(one.hash);
    expect(backups({ schedule: "hourly", keep: 48 }, Buffer.from("backup v2")).hash).not.toBe(one.hash);
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
    const rendered = files.find((f) => f.includes("NATS_API_PASSWORD="))!;
    const nats = natsCredentials(STACK.natsToken);
    expect(rendered).toContain(`NATS_API_USER=${nats.api.user}\nNATS_API_PASSWORD=${nats.api.password}\n`);
    expect(rendered).toContain(`NATS_BACKUP_PASSWORD=${nats.backup.password}\n`);
    expect(rendered).toContain(`NATS_OPS_PASSWORD=${nats.ops.password}\n`);
    expect(rendered).toContain("JWT_PREVIOUS_SECRET=\nJWT_PREVIOUS_SECRET_UNTIL=\n");
    expect(rendered).not.toMatch(/\{\{[A-Z_]+\}\}/);
    // The release in service is not in the secret .env: the step records it beside.
    expect(rendered).not.toContain("API_RELEASE");
    expect(stackStep.script).toContain(`RELEASE_ID='${releaseId(BUNDLE)}'`);
    expect(env.match(/\{\{[A-Z_]+\}\}/g)!.length).toBeGreaterThan(10);
  });
});

describe("the monitoring step", () => {
  /** The step's inputs, decoded: NAME -> text. */
  const inputs = (settings: MonitoringStepSettings, host = HOST) => {
    const { script } = monitoringStep(loadTemplates(), host, settings);
    return Object.fromEntries(
      [...script.matchAll(/^([A-Z_]+)_B64='([A-Za-z0-9+/=]*)'$/gm)].map((m) => [
        m[1]!,
        Buffer.from(m[2]!, "base64").toString(),
      ]),
    );
  };

  it("gives Prometheus the stack's retention on its command line, on loopback", () => {
    const dropIn = inputs({ retention: "4w", retentionSize: "512MB" }).PROMETHEUS_DROPIN!;
    expect(dropIn).toContain("--storage.tsdb.retention.time=4w");
    expect(dropIn).toContain("--storage.tsdb.retention.size=512MB");
    expect(dropIn).toContain("--web.listen-address=127.0.0.1:9090");
    expect(dropIn).toMatch(/^MemoryMax=/m);
  });

  it("carries the dashboard as it is in templates/, and tells Prometheus where its consoles are", () => {
    const given = inputs(MONITORING);
    expect(given.DASHBOARD).toBe(loadTemplates().monitoring["dashboard.html"]);
    expect(given.PROMETHEUS_DROPIN).toContain("--web.console.templates=/etc/prometheus/consoles");
    expect(given.PROMETHEUS_DROPIN).toContain("--web.console.libraries=/etc/prometheus/console_libraries");
  });

  it("probes the site's certificate, its chain unchecked only with Caddy's internal CA", () => {
    expect(inputs(MONITORING).PROMETHEUS_YML).toMatch(/module: \[tls_certificate\][\s\S]*"api\.example\.com:443"/);
    expect(inputs(MONITORING, { ...HOST, tlsIssuer: "internal" }).PROMETHEUS_YML).toContain(
      "module: [tls_certificate_internal]",
    );
  });

  it("installs the placeholder Alertmanager configuration, and is no secret, until receivers are given", () => {
    const placeholder = monitoringStep(loadTemplates(), HOST, MONITORING);
    expect(inputs(MONITORING).ALERTMANAGER_YML).toBe(loadTemplates().monitoring["alertmanager.yml"]);
    expect(placeholder.secret).toBe(false);
    const alertmanager = renderAlertmanagerConfig({
      email: undefined,
      webhook: undefined,
      heartbeatUrl: "https://hc.example.com/ping/1",
    });
    const given = { ...MONITORING, alertmanager };
    expect(inputs(given).ALERTMANAGER_YML).toBe(alertmanager.config.content);
    expect(monitoringStep(loadTemplates(), HOST, given).secret).toBe(true);
    const nobody = { ...MONITORING, alertmanager: renderAlertmanagerConfig({}) };
    expect(monitoringStep(loadTemplates(), HOST, nobody).secret).toBe(false);
  });

  it("carries Alertmanager's secret files by name, and refuses one outside its folder", () => {
    const files = (secrets: Array<{ path: string; content: string }>) => ({
      ...MONITORING,
      alertmanager: {
        config: { path: "/etc/prometheus/alertmanager.yml", content: "x", mode: 0o600 as const },
        secrets: secrets.map((f) => ({ ...f, mode: 0o600 as const })),
        holdsReceivers: true,
      },
    });
    const { script } = monitoringStep(
      loadTemplates(),
      HOST,
      files([{ path: "/etc/prometheus/alertmanager-secrets/smtp-password", content: "hunter2" }]),
    );
    const line = /^ALERTMANAGER_SECRET_FILES='(.*)'$/m.exec(script)![1]!;
    expect(line.split(":")[0]).toBe("smtp-password");
    expect(Buffer.from(line.split(":")[1]!, "base64").toString()).toBe("hunter2");
    expect(
      /^ALERTMANAGER_SECRET_FILES='(.*)'$/m.exec(monitoringStep(loadTemplates(), HOST, MONITORING).script)![1],
    ).toBe("");
    expect(() => monitoringStep(loadTemplates(), HOST, files([{ path: "/etc/passwd", content: "x" }]))).toThrow(
      /alertmanager secret "\/etc\/passwd"/,
    );
  });

  it("carries the rule files by name, in a stable order, and refuses a name that is not a plain .yml", () => {
    const rules = { "host.yml": "groups: []\n", "api.yml": "groups: []\n" };
    const { script } = monitoringStep(loadTemplates(), HOST, { ...MONITORING, rules });
    const line = /^RULE_FILES='(.*)'$/m.exec(script)![1]!;
    expect(line.split(" ").map((entry) => entry.split(":")[0])).toEqual(["api.yml", "host.yml"]);
    expect(Buffer.from(line.split(" ")[0]!.split(":")[1]!, "base64").toString()).toBe("groups: []\n");
    expect(/^RULE_FILES='(.*)'$/m.exec(monitoringStep(loadTemplates(), HOST, MONITORING).script)![1]).toBe("");
    expect(() => monitoringStep(loadTemplates(), HOST, { ...MONITORING, rules: { "../x.yml": "" } })).toThrow(
      /rule file "\.\.\/x\.yml"/,
    );
  });
});
