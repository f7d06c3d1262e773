// Alert delivery end to end, with the real Alertmanager (Debian's 0.25) on
// loopback: the stack settings parsed, alertmanager.yml rendered with short
// test intervals, its secrets in 0600 files; a webhook receiver and a
// heartbeat URL (a node HTTP server here) and an SMTP sink (smtp-server,
// asking for the password from the secret file). Alerts are posted to its v2
// API as Prometheus posts them. Then `ops alerts`, `ops silence` and
// status's alerts line, through the ops tunnel code, against the same server.
//
// Every wait is bounded and fails naming what did not arrive; the delays
// measured are printed (the bound asserted is generous on purpose).
import { statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseAlertReceivers } from "../../infra/config/alert-receivers.js";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { renderAlertmanagerConfig, type AlertTimings } from "../../infra/monitoring/alertmanager-config.js";
import { firingSummary, parseSilence } from "../../scripts/ops/alerts.js";
import { withAlertmanager } from "../../scripts/ops/alertmanager-client.js";
import { alerts as alertsCommand, silence } from "../../scripts/ops/commands/alerts.js";
import type { Target } from "../../scripts/ops/target.js";
import {
  alertmanagerScratch,
  startAlertmanager,
  type LoopbackAlertmanager,
} from "../../scripts/loopback/alertmanager.js";
import type { Mail as SinkMail, Notice } from "../harness/alert-sink.js";

const TIMINGS: AlertTimings = { groupWait: "1s", groupInterval: "2s", repeatInterval: "1h", heartbeatInterval: "2s" };
/** Generous: group_wait plus a few group intervals, on a busy two-core machine. */
const DELIVERY_BOUND_MS = 20_000;
const SMTP_USER = "alerts";
const SMTP_PASSWORD = "smtp-Pa55word-from-a-file";

/** What the test's own SMTP sink records: the sink's fields, and who logged in. */
interface Mail extends SinkMail {
  user: string | undefined;
}

const notices: Notice[] = [];
const mails: Mail[] = [];
let http: Server;
let smtp: SMTPServer;
let am: LoopbackAlertmanager;
let target: Target;

const subject = (mail: Mail) => /^Subject: (.*)$/m.exec(mail.raw)?.[1] ?? "";
const to = (path: string) => notices.filter((n) => n.path === path);
const names = (notice: Notice) => notice.body.alerts.map((a) => a.labels.alertname);

/** Waits for `check` to return a value, at most `boundMs`; fails saying what never came and what did. */
async function until<T>(what: string, check: () => T | undefined, boundMs = DELIVERY_BOUND_MS): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const found = check();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${boundMs} ms. Webhook and heartbeat got: ${JSON.stringify(
          notices.map((n) => `${n.path} ${n.body.status} ${names(n).join(",")}`),
        )}; SMTP got: ${JSON.stringify(mails.map(subject))}; Alertmanager said:\n${am.output.slice(-15).join("\n")}`,
      );
    await sleep(100);
  }
}

/** As Prometheus posts them; `endsAt` is when Alertmanager takes it as resolved unless posted again. */
async function post(
  alerts: { labels: Record<string, string>; annotations?: Record<string, string>; endsInMs: number }[],
) {
  const now = Date.now();
  const response = await fetch(`${am.url}/api/v2/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      alerts.map((a) => ({
        labels: a.labels,
        annotations: a.annotations ?? {},
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + a.endsInMs).toISOString(),
      })),
    ),
  });
  expect(response.status, await response.text()).toBe(200);
  return now;
}

async function listen(
  server: { listen(port: number, host: string, done: () => void): unknown },
  address: () => unknown,
) {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (address() as AddressInfo).port;
}

beforeAll(async () => {
  http = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => (text += String(chunk)));
    request.on("end", () => {
      notices.push({ path: request.url ?? "", at: Date.now(), body: JSON.parse(text) as Notice["body"] });
      response.end("ok");
    });
  });
  smtp = new SMTPServer({
    // A sink on loopback: no TLS to offer, so login in clear (Go's SMTP client allows it only to localhost).
    disabledCommands: ["STARTTLS"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(new Error("Invalid username or password"));
    },
    onData(stream, session, callback) {
      let raw = "";
      stream.on("data", (chunk: Buffer) => (raw += chunk.toString()));
      stream.on("end", () => {
        mails.push({
          at: Date.now(),
          user: session.user as string | undefined,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  const httpPort = await listen(http, () => http.address());
  const smtpPort = await listen(smtp, () => smtp.server.address());

  // The stack's settings as an operator sets them (the secrets with --secret).
  const receivers = parseAlertReceivers({
    values: {
      alertEmailTo: "ops@example.com",
      alertEmailFrom: "alerts@example.com",
      alertSmtpHost: `127.0.0.1:${smtpPort}`,
      alertSmtpUser: SMTP_USER,
      alertSmtpPassword: SMTP_PASSWORD,
      alertSmtpRequireTls: "false",
      alertWebhookUrl: `http://127.0.0.1:${httpPort}/team`,
      alertHeartbeatUrl: `http://127.0.0.1:${httpPort}/heartbeat`,
    },
    secretKeys: new Set(["alertSmtpPassword", "alertWebhookUrl", "alertHeartbeatUrl"]),
    stack: "test",
  });
  const scratch = alertmanagerScratch();
  am = await startAlertmanager(
    renderAlertmanagerConfig(receivers, { timings: TIMINGS, secretsDir: scratch.secretsDir }),
    scratch,
  );
  target = { description: "the test's Alertmanager", transport: new LocalTransport() } as unknown as Target;
}, 60_000);

afterAll(async () => {
  await am?.stop();
  await new Promise((resolve) => http?.close(resolve));
  await new Promise((resolve) => smtp?.close(() => resolve(undefined)));
});

describe("alert delivery through the real Alertmanager", () => {
  it("keeps the config and the SMTP password in files of mode 0600, the password out of the config", async () => {
    const { readFileSync } = await import("node:fs");
    const config = `${am.dir}/alertmanager.yml`;
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(statSync(`${am.dir}/secrets/smtp-password`).mode & 0o777).toBe(0o600);
    expect(readFileSync(config, "utf8")).not.toContain(SMTP_PASSWORD);
    // Nor does Alertmanager's own API show it (the config it holds names the file).
    const status = await (await fetch(`${am.url}/api/v2/status`)).text();
    expect(status).toContain("smtp-password");
    expect(status).not.toContain(SMTP_PASSWORD);
  });

  it("pings the heartbeat URL with the Watchdog, again and again", async () => {
    const posted = await post([{ labels: { alertname: "Watchdog", severity: "heartbeat" }, endsInMs: 3_600_000 }]);
    const first = await until("the heartbeat URL's first ping", () => to("/heartbeat")[0]);
    // Repeated on the heartbeat's interval (2 s here), so an outside check sees a steady ping.
    const third = await until("the heartbeat URL's third ping", () => to("/heartbeat")[2]);
    console.log(`heartbeat: first ping ${first.at - posted} ms after the post, third ${third.at - posted} ms`);
    expect(first.body).toMatchObject({ receiver: "heartbeat", status: "firing" });
  });

  it("sends a critical alert to the webhook and by e-mail, then a resolve notice once its endsAt passes", async () => {
    const posted = await post([
      {
        labels: { alertname: "DiskFull", severity: "critical", instance: "host" },
        annotations: { summary: "Disk 93% full", runbook: "docs/operations.md#disk-full" },
        endsInMs: 6_000,
      },
    ]);
    const hook = await until("the webhook's DiskFull notice", () =>
      to("/team").find((n) => n.body.status === "firing" && names(n).includes("DiskFull")),
    );
    const mail = await until("the DiskFull e-mail", () => mails.find((m) => subject(m).includes("DiskFull")));
    console.log(`DiskFull delivered: webhook ${hook.at - posted} ms, e-mail ${mail.at - posted} ms after the post`);
    expect(hook.body.receiver).toBe("team");
    expect(hook.body.alerts[0]!.annotations).toEqual({
      summary: "Disk 93% full",
      runbook: "docs/operations.md#disk-full",
    });
    expect(subject(mail)).toMatch(/^\[FIRING:1\] DiskFull critical/);
    // Logged in with the password Alertmanager read from its 0600 file.
    expect(mail).toMatchObject({ user: SMTP_USER, from: "alerts@example.com", to: ["ops@example.com"] });
    expect(mail.raw).toContain("Disk 93% full");

    const resolved = await until("the webhook's DiskFull resolve notice", () =>
      to("/team").find((n) => n.body.status === "resolved" && names(n).includes("DiskFull")),
    );
    const resolvedMail = await until("the DiskFull resolve e-mail", () =>
      mails.find((m) => /^\[RESOLVED\] DiskFull/.test(subject(m))),
    );
    console.log(
      `DiskFull resolved (endsAt ${posted + 6_000 - posted} ms): webhook ${resolved.at - posted} ms, e-mail ${resolvedMail.at - posted} ms`,
    );
    expect(resolved.at).toBeGreaterThanOrEqual(posted + 6_000);
  });

  it("holds a warning back while the same alert is critical on the same instance", async () => {
    await post([
      { labels: { alertname: "ChatStoreFull", severity: "critical", instance: "host" }, endsInMs: 3_600_000 },
      { labels: { alertname: "ChatStoreFull", severity: "warning", instance: "host" }, endsInMs: 3_600_000 },
      // Another instance's warning is not held back by this critical.
      { labels: { alertname: "ChatStoreFull", severity: "warning", instance: "other" }, endsInMs: 3_600_000 },
    ]);
    const critical = await until("the ChatStoreFull critical notice", () =>
      to("/team").find((n) =>
        n.body.alerts.some((a) => a.labels.alertname === "ChatStoreFull" && a.labels.severity === "critical"),
      ),
    );
    const warning = await until("the other instance's ChatStoreFull warning", () =>
      to("/team").find((n) =>
        n.body.alerts.some((a) => a.labels.alertname === "ChatStoreFull" && a.labels.severity === "warning"),
      ),
    );
    // Both groups started together; by the next flush the held-back one would have come along.
    await sleep(2 * 2_000);
    const warnings = to("/team")
      .flatMap((n) => n.body.alerts)
      .filter((a) => a.labels.alertname === "ChatStoreFull" && a.labels.severity === "warning");
    expect(warnings.map((a) => a.labels.instance)).toEqual(["other"]);
    expect(critical.body.status).toBe("firing");
    expect(warning.body.status).toBe("firing");
  });

  it("stops notices for an alert silenced with ops silence", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      expect(
        await silence(target, parseSilence(["BackupFailed"], "1h", "testing the silence"), "tester@ci", am.port),
      ).toBe(0);
      expect(String(log.mock.calls[0]?.[0])).toMatch(
        /^silenced BackupFailed until \S+Z \(silence [0-9a-f-]+, by tester@ci\)$/,
      );
      // Nothing named so fires yet: said, in case the name is a typo.
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/no alert named BackupFailed is firing now/);
    } finally {
      log.mockRestore();
      warn.mockRestore();
    }
    const silences = (await (await fetch(`${am.url}/api/v2/silences`)).json()) as {
      createdBy: string;
      comment: string;
      status: { state: string };
      matchers: unknown[];
    }[];
    expect(silences.map((s) => [s.createdBy, s.comment, s.status.state])).toEqual([
      ["tester@ci", "testing the silence", "active"],
    ]);

    const posted = await post([
      { labels: { alertname: "BackupFailed", severity: "critical" }, endsInMs: 3_600_000 },
      // The control: posted with it, not silenced; once it is delivered the silenced one would have been too.
      { labels: { alertname: "CertificateExpiring", severity: "critical" }, endsInMs: 3_600_000 },
    ]);
    await until("the CertificateExpiring notice (the control)", () =>
      to("/team").find((n) => names(n).includes("CertificateExpiring")),
    );
    await until("the CertificateExpiring e-mail (the control)", () =>
      mails.find((m) => subject(m).includes("CertificateExpiring")),
    );
    await sleep(2_000);
    expect(to("/team").filter((n) => names(n).includes("BackupFailed"))).toEqual([]);
    expect(mails.filter((m) => subject(m).includes("BackupFailed")).map(subject)).toEqual([]);
    console.log(`silence: nothing of BackupFailed ${Date.now() - posted} ms after the post`);
  });

  it("ops alerts lists what fires: severity, since, summary, runbook; silenced and inhibited marked", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    let text: string;
    try {
      expect(await alertsCommand(target, false, am.port)).toBe(0);
      text = String(log.mock.calls[0]?.[0]);
    } finally {
      log.mockRestore();
    }
    expect(text).toMatch(/^the test's Alertmanager\nSEVERITY {2}SINCE +ALERT +SUMMARY\n/);
    expect(text).toMatch(/critical {2}\d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+[sm] ago\) +BackupFailed \[silenced\]/);
    expect(text).toMatch(/warning .* ChatStoreFull \[inhibited\]/);
    expect(text).toMatch(/warning .* ChatStoreFull +-\n {2}runbook: none given {3}\(instance=other\)/);
    expect(text).toContain("Heartbeat (Watchdog) firing");
    // DiskFull resolved: no longer listed.
    expect(text).not.toContain("DiskFull");
  });

  it("status's alerts line: the names firing, and those held back", async () => {
    const summary = await withAlertmanager(target, (api) => api.alerts(), am.port).then(firingSummary);
    expect(summary).toEqual({
      // Oldest first within a severity: ChatStoreFull was posted before CertificateExpiring.
      active: ["ChatStoreFull", "CertificateExpiring"],
      quiet: ["BackupFailed", "ChatStoreFull"],
      heartbeat: true,
    });
  });

  it("sent the heartbeat URL nothing but the Watchdog, and the team never the Watchdog", () => {
    expect(to("/heartbeat").length).toBeGreaterThanOrEqual(3);
    expect([...new Set(to("/heartbeat").flatMap(names))]).toEqual(["Watchdog"]);
    expect(to("/team").flatMap(names)).not.toContain("Watchdog");
    expect(mails.map(subject).join("\n")).not.toContain("Watchdog");
  });
});

describe("the chat formats, through the real Alertmanager's Slack and Discord integrations", () => {
  it("sends Slack's message (URL read from its 0600 file) and Discord's, each with the summary and runbook", async () => {
    const bodies: { path: string; body: string }[] = [];
    const chat = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => (text += String(chunk)));
      request.on("end", () => {
        bodies.push({ path: request.url ?? "", body: text });
        response.end("ok");
      });
    });
    const port = await listen(chat, () => chat.address());
    const scratch = alertmanagerScratch();
    const webhook = (format: string, path: string) =>
      parseAlertReceivers({
        values: { alertWebhookUrl: `http://127.0.0.1:${port}${path}`, alertWebhookFormat: format },
        secretKeys: new Set(["alertWebhookUrl"]),
        stack: "test",
      }).webhook!;
    const files = renderAlertmanagerConfig(
      { webhook: webhook("slack", "/slack") },
      { timings: TIMINGS, secretsDir: scratch.secretsDir },
    );
    // Both integrations in one receiver: Discord's added beside Slack's.
    const discord = renderAlertmanagerConfig({ webhook: webhook("discord", "/discord") }, { timings: TIMINGS });
    const discordConfig = /( {4}discord_configs:\n(?: {6}.*\n)+)/.exec(discord.config.content)![1]!;
    files.config.content = files.config.content.replace("    slack_configs:\n", `${discordConfig}    slack_configs:\n`);
    const chatAm = await startAlertmanager(files, scratch);
    try {
      expect(statSync(`${scratch.secretsDir}/slack-webhook-url`).mode & 0o777).toBe(0o600);
      const now = Date.now();
      const response = await fetch(`${chatAm.url}/api/v2/alerts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([
          {
            labels: { alertname: "NatsDown", severity: "critical" },
            annotations: { summary: "NATS is not answering", runbook: "docs/operations.md#nats-down" },
            startsAt: new Date(now).toISOString(),
            endsAt: new Date(now + 3_600_000).toISOString(),
          },
        ]),
      });
      expect(response.status).toBe(200);
      const deadline = Date.now() + DELIVERY_BOUND_MS;
      while (bodies.length < 2 && Date.now() < deadline) await sleep(100);
      expect(bodies.map((b) => b.path).sort(), chatAm.output.slice(-10).join("\n")).toEqual(["/discord", "/slack"]);
      const slack = JSON.parse(bodies.find((b) => b.path === "/slack")!.body) as {
        attachments: { title: string; text: string }[];
      };
      expect(slack.attachments[0]).toMatchObject({
        title: "[FIRING] NatsDown (critical)",
        text: "NATS is not answering (runbook: docs/operations.md#nats-down)\n",
      });
      const discordBody = JSON.parse(bodies.find((b) => b.path === "/discord")!.body) as {
        embeds: { title: string; description: string }[];
      };
      expect(discordBody.embeds[0]).toMatchObject({
        title: "[FIRING] NatsDown (critical)",
        description: "NATS is not answering (runbook: docs/operations.md#nats-down)\n",
      });
    } finally {
      await chatAm.stop();
      await new Promise((resolve) => chat.close(resolve));
    }
  }, 60_000);
});
