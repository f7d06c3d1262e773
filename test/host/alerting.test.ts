// Alerting end to end on the deployed test host (test/harness/deployed-host.ts):
// its stack sends alerts to receivers on this machine (test/harness/alert-sink.ts:
// an https webhook, an SMTP sink, a heartbeat URL), and a real `pulumi up`
// put that in Alertmanager's configuration. Real faults, each fixed again:
// the scheduled backup failing (the bucket refuses its key), NATS stopped,
// the chat store past 90 % of its limit; each alert must reach the webhook
// and the mailbox, then its resolve notice. The heartbeat pings its URL, stops
// once Alertmanager has let go of the last Watchdog Prometheus sent before it
// stopped (at that alert's `endsAt`, read from Alertmanager, not guessed), and
// pings again when Prometheus is back.
//
// Test settings, written on the host after the `up` and undone before the
// next file: production waits minutes on purpose (scrape and evaluation 15 s,
// rules' `for:` up to 10 min, group_interval 5 min, the heartbeat every 5
// min, and Prometheus keeps a firing alert alive in Alertmanager for 4 x its
// 1 min resend delay). Here: scrape and evaluation every 2 s, every `for:`
// 4 s, group_wait 1 s, group_interval 2 s, the heartbeat every 2 s, and a
// resend delay of 2 s. The delays measured are printed; the bound asserted
// is generous on purpose (a loaded two-core machine).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { API_INBOX_PREFIX } from "../../app/src/store/nats-connection.js";
import type { SshTransport } from "../../infra/host/runner/ssh.js";
import { resolveTarget, type Target } from "../../scripts/ops/target.js";
import { openTunnel, type Tunnel } from "../../scripts/ops/tunnel.js";
import type { AlertSink, Mail, Notice } from "../harness/alert-sink.js";
import { DEPLOY_TIMEOUT_MS, deployedHost, hostKeyNow, resetBeforeNextFile } from "../harness/deployed-host.js";
import { run } from "../harness/host-exec.js";

/** From the fault (or its fix) to the notice: a few evaluation rounds and group intervals, with room for load. */
const DELIVERY_BOUND_MS = 60_000;
const APP_DIR = "/opt/conversational-platform";
const PROMETHEUS_DROPIN = "/etc/systemd/system/prometheus.service.d/platform.conf";
const FILES = ["/etc/prometheus/prometheus.yml", "/etc/prometheus/alertmanager.yml", PROMETHEUS_DROPIN];

let root: SshTransport;
let sink: AlertSink;
let target: Target | undefined;
const measured: string[] = [];

const subject = (mail: Mail) => /^Subject: (.*)$/m.exec(mail.raw)?.[1] ?? "";
const names = (notice: Notice) => notice.body.alerts.map((a) => a.labels.alertname);
const team = (since: number) => sink.notices.filter((n) => n.path === "/team" && n.at >= since);
const pings = (since: number) => sink.notices.filter((n) => n.path === "/heartbeat" && n.at >= since);

/** Waits for `check` to return a value, at most `boundMs`; fails saying what never came and what did. */
async function until<T>(what: string, check: () => T | undefined | false, boundMs = DELIVERY_BOUND_MS): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const found = check();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) {
      const alerts = await run(root, "curl -sS --max-time 5 http://127.0.0.1:9093/api/v2/alerts");
      throw new Error(
        `${what}: not within ${boundMs} ms. The webhook got: ${JSON.stringify(
          sink.notices.slice(-20).map((n) => `${n.path} ${n.body.status} ${names(n).join(",")}`),
        )}; SMTP got: ${JSON.stringify(sink.mails.slice(-10).map(subject))}; Alertmanager holds: ${alerts.stdout.slice(0, 3000)}`,
      );
    }
    await sleep(250);
  }
}

/** The Watchdog alerts Alertmanager still holds (it lists an alert until its `endsAt`). */
async function heldWatchdogs(): Promise<{ endsAt: string }[]> {
  const url = `http://127.0.0.1:9093/api/v2/alerts?filter=${encodeURIComponent('alertname="Watchdog"')}`;
  const result = await run(root, `curl -fsS --max-time 5 '${url}'`);
  // Alertmanager's answer is what counts: once, a whole answer came back
  // through the SSH transport with a non-zero status (not understood yet).
  try {
    return JSON.parse(result.stdout) as { endsAt: string }[];
  } catch {
    throw new Error(`Alertmanager's alerts (${url}): exit status ${result.code}, not JSON: ${result.output}`);
  }
}

/** The team's firing notice and e-mail of `alert` after `since`, then returns when they came. */
async function firing(alert: string, since: number, severity = "critical") {
  const notice = await until(`the webhook's ${alert} notice`, () =>
    team(since).find(
      (n) =>
        n.body.status === "firing" &&
        n.body.alerts.some((a) => a.labels.alertname === alert && a.labels.severity === severity),
    ),
  );
  const mail = await until(`the ${alert} e-mail`, () =>
    sink.mails.find(
      (m) => m.at >= since && subject(m).startsWith("[FIRING") && subject(m).includes(`${alert} ${severity}`),
    ),
  );
  expect(notice.body.receiver).toBe("team");
  const fired = notice.body.alerts.find((a) => a.labels.alertname === alert)!;
  expect(fired.annotations.runbook).toMatch(/^docs\/operations\.md#alert-/);
  expect(mail.to).toEqual(["ops@example.com"]);
  return { webhookMs: notice.at - since, mailMs: mail.at - since };
}

/** The resolve notice and e-mail of `alert` after `since`. */
async function resolved(alert: string, since: number, severity = "critical") {
  const notice = await until(`the webhook's ${alert} resolve notice`, () =>
    team(since).find(
      (n) =>
        n.body.status === "resolved" &&
        n.body.alerts.some((a) => a.labels.alertname === alert && a.labels.severity === severity),
    ),
  );
  const mail = await until(`the ${alert} resolve e-mail`, () =>
    sink.mails.find((m) => m.at >= since && subject(m).startsWith("[RESOLVED]") && subject(m).includes(alert)),
  );
  return { webhookMs: notice.at - since, mailMs: mail.at - since };
}

function record(
  what: string,
  fired: { webhookMs: number; mailMs: number },
  fixed: { webhookMs: number; mailMs: number },
) {
  const line =
    `${what}: alert by webhook ${fired.webhookMs} ms, by e-mail ${fired.mailMs} ms after the fault; ` +
    `resolve by webhook ${fixed.webhookMs} ms, by e-mail ${fixed.mailMs} ms after the fix`;
  measured.push(line);
  console.log(line);
}

/** Writes `content` to a file of the host, keeping its owner and mode. */
async function write(path: string, content: string) {
  const result = await run(root, `cat >${path}`, content);
  if (result.code !== 0) throw new Error(`writing ${path}: ${result.output}`);
}

async function ok(command: string) {
  const result = await run(root, command);
  if (result.code !== 0) throw new Error(`${command}: exit status ${result.code}: ${result.output}`);
  return result.stdout;
}

/** Prometheus and Alertmanager answer again after a restart or reload. */
async function ready() {
  await ok(
    "for p in 9090 9093; do for i in $(seq 60); do curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:$p/-/ready && break; sleep 1; done; done",
  );
}

/**
 * `use` with a connection to the host's NATS as the API's own user, through
 * the deploy user's SSH tunnel to its loopback port (as ops backup reaches it).
 */
async function withNats(use: (nc: NatsConnection) => Promise<void>) {
  const env = await ok(`grep -E '^NATS_API_(USER|PASSWORD)=' ${APP_DIR}/.env`);
  const value = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(env)?.[1]?.replace(/^["']|["']$/g, "") ?? "";
  const tunnel: Tunnel = await openTunnel(target!.transport, 4222);
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({
      servers: `127.0.0.1:${tunnel.port}`,
      user: value("NATS_API_USER"),
      pass: value("NATS_API_PASSWORD"),
      // The API user may read replies on its own inboxes only (nats-auth.conf).
      inboxPrefix: API_INBOX_PREFIX,
    });
    await use(nc);
  } finally {
    await nc?.close();
    await tunnel.close();
  }
}

describe("alerts from the deployed test host reach its receivers", () => {
  beforeAll(async () => {
    const deployed = await deployedHost();
    ({ root } = deployed);
    sink = deployed.alerts;
    target = resolveTarget(
      { host: deployed.host.address, user: "deploy", key: deployed.host.keyPath, hostKey: hostKeyNow() },
      {},
    );

    // What the `up` left, kept to put back before the next file.
    const saved: Record<string, string> = {};
    for (const file of [...FILES, `${APP_DIR}/backup/bucket.env`]) saved[file] = await ok(`cat ${file}`);
    const ruleFiles = (await ok("ls /etc/prometheus/rules/*.yml")).trim().split("\n");
    for (const file of ruleFiles) saved[file] = await ok(`cat ${file}`);
    resetBeforeNextFile(async () => {
      for (const [file, content] of Object.entries(saved)) await write(file, content);
      await ok("systemctl daemon-reload && systemctl restart prometheus && systemctl reload prometheus-alertmanager");
      await ready();
    });

    // The test's short intervals (see the top of this file).
    const prometheusYml = saved["/etc/prometheus/prometheus.yml"]!.replace(/^(\s*scrape_interval:).*$/m, "$1 2s")
      .replace(/^(\s*evaluation_interval:).*$/m, "$1 2s")
      .replace(/^(\s*scrape_timeout:).*$/m, "$1 2s");
    await write("/etc/prometheus/prometheus.yml", prometheusYml);
    for (const file of ruleFiles) await write(file, saved[file]!.replace(/^(\s*for:).*$/gm, "$1 4s"));
    const am = parse(saved["/etc/prometheus/alertmanager.yml"]!) as {
      route: Record<string, unknown> & { routes: Record<string, unknown>[] };
    };
    Object.assign(am.route, { group_wait: "1s", group_interval: "2s" });
    Object.assign(am.route.routes[0]!, { group_interval: "1s", repeat_interval: "2s" });
    await write("/etc/prometheus/alertmanager.yml", stringify(am, { lineWidth: 0 }));
    await write(
      PROMETHEUS_DROPIN,
      saved[PROMETHEUS_DROPIN]!.replace(
        "--web.listen-address=",
        "--rules.alert.resend-delay=2s \\\n  --web.listen-address=",
      ),
    );
    await ok("systemctl daemon-reload && systemctl restart prometheus && systemctl reload prometheus-alertmanager");
    await ready();
  }, DEPLOY_TIMEOUT_MS);

  afterAll(async () => {
    await target?.transport.endSession();
    if (measured.length > 0) console.log(`alert delivery on the test host:\n  ${measured.join("\n  ")}`);
  });

  it("has the stack's receivers in Alertmanager's configuration, from the `up`", async () => {
    // Read as root: the file is Alertmanager's (0640 root:prometheus), and holds the webhook's URL.
    const config = parse(await ok("cat /etc/prometheus/alertmanager.yml")) as {
      receivers: {
        name: string;
        webhook_configs?: { url: string }[];
        email_configs?: { smarthost: string; to: string }[];
      }[];
    };
    const byName = Object.fromEntries(config.receivers.map((r) => [r.name, r]));
    expect(byName.team?.webhook_configs?.[0]?.url).toBe(`${sink.url}/team`);
    expect(byName.team?.email_configs?.[0]).toMatchObject({ smarthost: sink.smtp, to: "ops@example.com" });
    expect(byName.heartbeat?.webhook_configs?.[0]?.url).toBe(`${sink.url}/heartbeat`);
  }, 30_000);

  it("tells the team when the scheduled backup fails, and when it succeeds again", async () => {
    const bucket = `${APP_DIR}/backup/bucket.env`;
    const good = await ok(`cat ${bucket}`);
    // A store with no message is kept on the host, not uploaded (scripts/backup/scheduled.ts):
    // one record of a conversation of the test's own, so the run needs the bucket.
    const conversation = randomUUID();
    await withNats(async (nc) => {
      await jetstream(nc).publish(`conv.${conversation}.fill`, "a record for the backup to upload");
    });
    // The bucket refuses the key: the S3 endpoint checks every request's signature.
    await write(bucket, good.replace(/^BACKUP_S3_SECRET_KEY=.*$/m, "BACKUP_S3_SECRET_KEY=not-the-bucket-key"));
    const failed = await run(root, "systemctl start platform-backup.service");
    const journal = async () =>
      (
        await run(
          root,
          "journalctl -u platform-backup --no-pager -n 40; cat /opt/conversational-platform/.deploy.lock.holder; systemctl list-timers --all | grep backup",
        )
      ).output;
    expect(failed.code, await journal()).not.toBe(0);
    const faultAt = Date.now();
    const fired = await firing("BackupFailed", faultAt);

    await write(bucket, good);
    const again = await run(root, "systemctl start platform-backup.service");
    expect(again.code, await journal()).toBe(0);
    const fixedAt = Date.now();
    record("backup failed (BackupFailed)", fired, await resolved("BackupFailed", fixedAt));
    await withNats(async (nc) => {
      await (await jetstreamManager(nc)).streams.purge("CONVERSATIONS", { filter: `conv.${conversation}.>` });
    });
  }, 300_000);

  it("tells the team when the chat store passes 90 % of its limit, and when room is made", async () => {
    await withNats(async (nc) => {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info("CONVERSATIONS");
      const original: StreamConfig = info.config;
      // A 10 GB store is not filled in a test: the stream's limit is lowered
      // (what a smaller chatMaxBytes does), to a size the stream now fills
      // less than 85 % of, then filled past 90 % with records of a
      // conversation of the test's own.
      const limit = Math.max(2 * 2 ** 20, Math.ceil(info.state.bytes / 0.85));
      await jsm.streams.update("CONVERSATIONS", { max_bytes: limit });
      const conversation = randomUUID();
      const js = jetstream(nc);
      const chunk = new Uint8Array(32 * 1024).fill(120);
      let bytes = info.state.bytes;
      for (let i = 0; bytes < 0.93 * limit && i < 10_000; i++) {
        await js.publish(`conv.${conversation}.fill`, chunk);
        bytes = (await jsm.streams.info("CONVERSATIONS")).state.bytes;
      }
      expect(bytes / limit).toBeGreaterThan(0.9);
      expect(bytes / limit).toBeLessThan(1);
      const faultAt = Date.now();
      const fired = await firing("ChatStoreFilling", faultAt);

      await jsm.streams.purge("CONVERSATIONS", { filter: `conv.${conversation}.>` });
      await jsm.streams.update("CONVERSATIONS", { max_bytes: original.max_bytes });
      const fixedAt = Date.now();
      record("chat store over 90 % (ChatStoreFilling critical)", fired, await resolved("ChatStoreFilling", fixedAt));
      expect((await jsm.streams.info("CONVERSATIONS")).config.max_bytes).toBe(original.max_bytes);
    });
  }, 300_000);

  it("tells the team when NATS is stopped, and when it is back", async () => {
    const nats = (await ok("docker ps -q --filter label=com.docker.compose.service=nats")).trim();
    expect(nats).toMatch(/^[0-9a-f]+$/);
    await ok(`docker stop ${nats}`);
    const faultAt = Date.now();
    let fired: { webhookMs: number; mailMs: number };
    let apiFired: { webhookMs: number; mailMs: number };
    try {
      fired = await firing("NatsDown", faultAt);
      apiFired = await firing("ApiNatsDisconnected", faultAt);
    } finally {
      await ok(`docker start ${nats}`);
    }
    const fixedAt = Date.now();
    record("NATS stopped (NatsDown)", fired, await resolved("NatsDown", fixedAt));
    record("NATS stopped (ApiNatsDisconnected)", apiFired, await resolved("ApiNatsDisconnected", fixedAt));
  }, 300_000);

  it("pings the heartbeat URL, stops once Alertmanager lets the last Watchdog go when Prometheus stops, and pings again once it is back", async () => {
    const start = Date.now();
    const first = await until("a heartbeat ping", () => pings(start)[0]);
    expect(first.body).toMatchObject({ receiver: "heartbeat", status: "firing" });
    expect(names(first)).toEqual(["Watchdog"]);

    await ok("systemctl stop prometheus");
    const stoppedAt = Date.now();
    try {
      // Alertmanager keeps the Watchdog Prometheus last sent until its
      // `endsAt`: 4 resend delays after it was sent, which may be one from
      // before this file shortened that delay (up to 4 min). It is read, so
      // the wait is bounded by the alert actually held, not a guess.
      const held = await heldWatchdogs();
      expect(held.length).toBeGreaterThan(0);
      const endsAt = Math.max(...held.map((a) => Date.parse(a.endsAt)));
      const deadline = Math.max(endsAt, Date.now()) + 60_000;
      let goneAt: number | undefined;
      while (goneAt === undefined) {
        if ((await heldWatchdogs()).length === 0) goneAt = Date.now();
        else if (Date.now() > deadline)
          throw new Error(
            `Alertmanager still holds the Watchdog 60 s past its endsAt ${new Date(endsAt).toISOString()}`,
          );
        else await sleep(500);
      }
      // A ping already on its way when the alert went may still land; none
      // may come after that, over ten times the heartbeat's period.
      const IN_FLIGHT_MS = 10_000;
      const QUIET_MS = 20_000;
      await sleep(IN_FLIGHT_MS + QUIET_MS);
      expect(pings(goneAt + IN_FLIGHT_MS).map((p) => p.at - goneAt!)).toEqual([]);
      const last = pings(start).at(-1)!;
      measured.push(
        `heartbeat: last ping ${last.at - stoppedAt} ms after Prometheus stopped; ` +
          `Alertmanager let the Watchdog go ${goneAt - stoppedAt} ms after (its endsAt: ${endsAt - stoppedAt} ms)`,
      );
    } finally {
      await ok("systemctl start prometheus");
    }
    const startedAt = Date.now();
    const back = await until("a heartbeat ping after Prometheus started again", () => pings(startedAt)[0], 120_000);
    measured.push(`heartbeat: back ${back.at - startedAt} ms after Prometheus started`);
    console.log(measured.slice(-2).join("\n"));
  }, 600_000);
});
