// The host's monitoring after a real `pulumi up` (the deployed test host,
// test/harness/deployed-host.ts): the monitoring step's four Debian services
// run, Prometheus scrapes its jobs, the platform's textfile metrics reach it,
// and none of it is reachable from outside the host. Also measures what the
// monitoring costs in memory there.
import { cpus, totalmem } from "node:os";
import { beforeAll, describe, expect, it } from "vitest";
import type { SshTransport } from "../../infra/host/runner/ssh.js";
import { API_HOST, DEPLOY_TIMEOUT_MS, deployedHost, resetBeforeNextFile } from "../harness/deployed-host.js";
import { run } from "../harness/host-exec.js";
import type { CommandResult } from "../harness/pulumi-engine.js";
import type { SystemdHost } from "../harness/systemd-host.js";
import { tcpProbe } from "../harness/tcp-probe.js";

const SERVICES = ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-blackbox-exporter"];
/** Prometheus, Alertmanager, node_exporter, the blackbox exporter, and Alertmanager's cluster port (which must stay shut). */
const PORTS = [9090, 9093, 9100, 9115, 9094];

let host: SystemdHost;
let root: SshTransport;
let first: CommandResult;

/** A query of Prometheus's HTTP API, from inside the host (it listens on its loopback only). */
async function prometheus<T>(path: string): Promise<T> {
  const result = await run(root, `curl -sS --max-time 5 'http://127.0.0.1:9090/api/v1/${path}'`);
  let body: { status?: string; data?: T } = {};
  try {
    body = JSON.parse(result.stdout) as typeof body;
  } catch {
    // Not JSON: reported below with what curl said.
  }
  if (body.status !== "success") throw new Error(`Prometheus ${path} (exit ${result.code}): ${result.output}`);
  return body.data as T;
}

interface Target {
  labels: { job: string; instance: string };
  health: "up" | "down" | "unknown";
  lastError: string;
}
interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Polls `read` once a second until `done` holds, up to `seconds`; the last value either way. */
async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, seconds: number): Promise<T> {
  let value = await read();
  for (let i = 0; i < seconds && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    value = await read();
  }
  return value;
}

const healthByJob = (targets: { activeTargets: Target[] }) =>
  Object.fromEntries(targets.activeTargets.map((t) => [`${t.labels.job} ${t.labels.instance}`, t.health]));
const query = (promql: string) => prometheus<{ result: Sample[] }>(`query?query=${encodeURIComponent(promql)}`);

describe("monitoring on the deployed test host", () => {
  beforeAll(async () => {
    ({ host, root, first } = await deployedHost());
    // The site's name points at the host itself, as its DNS does for a real
    // server: the certificate probe reaches Caddy (the test host has no DNS of its own).
    await run(root, `grep -q ' ${API_HOST}$' /etc/hosts || echo '127.0.0.1 ${API_HOST}' >>/etc/hosts`);
    resetBeforeNextFile(async () => {
      await run(root, `sed -i '/ ${API_HOST.replaceAll(".", "\\.")}$/d' /etc/hosts`);
    });
  }, DEPLOY_TIMEOUT_MS);

  it("ran the monitoring step in the first up, and the four services run", async () => {
    expect(first.stdout).toMatch(/platform-host-monitoring\s+created/);
    for (const unit of SERVICES) {
      const active = await run(root, `systemctl is-active ${unit}`);
      expect(active.stdout.trim(), unit).toBe("active");
    }
    // Retention from the stack's defaults (monitoringRetention, monitoringRetentionSize).
    const flags = await prometheus<{ [flag: string]: string }>("status/flags");
    expect(flags["storage.tsdb.retention.time"]).toBe("15d");
    // Prometheus's sizes are powers of 1024, and it says so.
    expect(flags["storage.tsdb.retention.size"]).toBe("1GiB");
    expect(flags["web.listen-address"]).toBe("127.0.0.1:9090");
  }, 60_000);

  it("scrapes every job: the host, the API instances, Caddy, NATS, the certificate, itself and Alertmanager", async () => {
    const expected = {
      "node 127.0.0.1:9100": "up",
      "api api-1": "up",
      "api api-2": "up",
      "caddy 127.0.0.1:2019": "up",
      "nats 127.0.0.1:4222": "up",
      [`certificate ${API_HOST}:443`]: "up",
      "prometheus 127.0.0.1:9090": "up",
      "alertmanager 127.0.0.1:9093": "up",
    };
    const targets = await poll(
      () => prometheus<{ activeTargets: Target[] }>("targets"),
      (t) => JSON.stringify(healthByJob(t)) === JSON.stringify(expected),
      90,
    );
    expect(healthByJob(targets), JSON.stringify(targets.activeTargets.map((t) => t.lastError))).toEqual(expected);
    // The probes answer what the rules read: NATS greets, and the certificate's expiry is in the future.
    const probes = await poll(
      () => query('probe_success{job=~"nats|certificate"} == 1'),
      (r) => r.result.length === 2,
      30,
    );
    expect(probes.result.map((s) => s.metric.job).sort()).toEqual(["certificate", "nats"]);
    const expiry = await query("probe_ssl_earliest_cert_expiry");
    expect(Number(expiry.result[0]?.value[1])).toBeGreaterThan(Date.now() / 1000);
    // Caddy's request metrics are on (servers { metrics }), with the status code.
    const caddy = await poll(
      () => query('caddy_http_request_duration_seconds_count{code="200"}'),
      (r) => r.result.length > 0,
      30,
    );
    expect(caddy.result.length).toBeGreaterThan(0);
  }, 240_000);

  it("reads the textfile metrics: a reboot pending or not, fail2ban's bans, and the scheduled backup's result", async () => {
    const host = await poll(
      () => query('{__name__=~"platform_reboot_required|platform_fail2ban_up|platform_fail2ban_banned", job="node"}'),
      (r) => r.result.length >= 3,
      60,
    );
    const byName = Object.fromEntries(host.result.map((s) => [s.metric.__name__, s]));
    expect(byName.platform_reboot_required?.value[1]).toMatch(/^[01]$/);
    expect(byName.platform_fail2ban_up?.value[1]).toBe("1");
    expect(byName.platform_fail2ban_banned?.metric.jail).toBe("sshd");
    // A backup now, as the timer starts it; its ExecStopPost= writes the metrics.
    const before = Math.floor(Date.now() / 1000) - 5;
    const started = await run(root, "systemctl start platform-backup.service");
    const journal =
      started.code === 0 ? undefined : await run(root, "journalctl -u platform-backup --no-pager -o cat | tail -n 40");
    expect(started.code, `${started.output}\n${journal?.output ?? ""}`).toBe(0);
    const backup = await poll(
      () => query('{__name__=~"platform_backup_.*", job="node"}'),
      // This run's reading, not an earlier run's (another file may have run backups on this host).
      (r) =>
        r.result.length === 3 &&
        r.result.some(
          (s) => s.metric.__name__ === "platform_backup_last_success_timestamp_seconds" && Number(s.value[1]) >= before,
        ),
      60,
    );
    const backupBy = Object.fromEntries(backup.result.map((s) => [s.metric.__name__, Number(s.value[1])]));
    expect(backupBy.platform_backup_last_run_success).toBe(1);
    expect(backupBy.platform_backup_last_success_timestamp_seconds).toBeGreaterThanOrEqual(before);
    // The byo stack's schedule: hourly.
    expect(backupBy.platform_backup_schedule_seconds).toBe(3600);
  }, 300_000);

  it("is unreachable from outside the host: each listens on loopback only", async () => {
    // The host answers from here (SSH), so a failure below is the port's.
    expect(await tcpProbe(host.address, 22, 3000)).toBe("connected");
    for (const port of PORTS) {
      expect(await tcpProbe(host.address, port, 3000), `${port} from outside`).not.toBe("connected");
      // From the host itself, on its own address, whatever its firewall does: nothing there.
      const own = await run(root, `curl -s -o /dev/null --max-time 3 http://${host.address}:${port}/; echo $?`);
      expect(own.stdout.trim(), `${port} on ${host.address} from the host`).toBe("7");
    }
    const listening = await run(root, "ss -ltnH");
    for (const port of PORTS.slice(0, 4)) {
      const lines = listening.stdout.split("\n").filter((l) => new RegExp(`:${port}\\s`).test(l));
      expect(lines.length, `${port}:\n${listening.stdout}`).toBeGreaterThan(0);
      for (const line of lines) expect(line, String(port)).toMatch(new RegExp(`\\s127\\.0\\.0\\.1:${port}\\s`));
    }
    expect(listening.stdout).not.toMatch(/:9094\s/);
  }, 120_000);

  it("stays within its bounds, and says what it costs", async () => {
    // Each daemon is one process: its resident memory, and the unit's bounds.
    // (systemd's MemoryCurrent needs a memory cgroup it may manage: on this
    // test host, an nspawn container on a cgroup v1 machine, it has none and
    // says "[not set]"; on a VPS with cgroup v2 the bounds are enforced.)
    const shown = await run(
      root,
      `stat -fc %T /sys/fs/cgroup; for u in ${SERVICES.join(" ")}; do pid=$(systemctl show -P MainPID $u); ` +
        `echo "$u $(awk '/^VmRSS:/ { print $2 * 1024 }' /proc/$pid/status) $(systemctl show -P MemoryMax $u) ` +
        `$(systemctl show -P CPUQuotaPerSecUSec $u) $(systemctl show -P MemoryCurrent $u | tr ' ' _)"; done`,
    );
    const [cgroupFs, ...lines] = shown.stdout.trim().split("\n");
    const rows = lines.map((line) => line.split(" "));
    expect(
      rows.map((r) => r[0]),
      shown.output,
    ).toEqual(SERVICES);
    let total = 0;
    for (const [unit, rss, memoryMax, quota] of rows) {
      expect(Number(memoryMax), `${unit} MemoryMax: ${shown.output}`).toBeGreaterThan(0);
      expect(quota, `${unit} CPUQuota`).toMatch(/^\d+ms$/);
      expect(Number(rss), `${unit} resident memory: ${shown.output}`).toBeGreaterThan(0);
      expect(Number(rss), `${unit} resident memory`).toBeLessThan(Number(memoryMax));
      total += Number(rss);
    }
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      `monitoring memory on the test host (resident, a few minutes after start; cgroup fs ${cgroupFs}, MemoryCurrent ` +
        `${rows.map((r) => r[4]).join("/")}): ${rows.map(([u, rss]) => `${u} ${mib(Number(rss))}`).join(", ")}; ` +
        `total ${mib(total)} (machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB)`,
    );
  }, 60_000);
});
