// Reading what the host scripts print, and the decisions made from it: the
// status as data, the releases on the host, which release a rollback goes to.

/** The host scripts print sections: "== name", then its lines. */
export function sections(output: string): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  let current: string[] | undefined;
  for (const line of output.split("\n")) {
    const heading = /^== ([a-z_]+)$/.exec(line);
    if (heading) {
      current = result[heading[1]!] = [];
    } else if (current && line !== "") {
      current.push(line);
    }
  }
  return result;
}

export interface Release {
  id: string;
  installedAt: string;
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  detail: string;
}

export interface ReleasesOnHost {
  current: string | undefined;
  /** Newest first. */
  releases: Release[];
  /** Oldest first. */
  audit: AuditEntry[];
}

export function parseReleases(output: string): ReleasesOnHost {
  const s = sections(output);
  return {
    current: s.current?.[0],
    releases: (s.releases ?? []).map((line) => {
      const [id = "", installedAt = ""] = line.split("\t");
      return { id, installedAt };
    }),
    audit: (s.audit ?? []).map((line) => {
      const [at = "", actor = "", action = "", detail = ""] = line.split("\t");
      return { at, actor, action, detail };
    }),
  };
}

/**
 * The release a rollback goes back to: the one the release in service
 * replaced (the audit log's last successful switch to it), or else the
 * newest other release on the host.
 */
export function previousRelease(host: ReleasesOnHost): string | undefined {
  const { current } = host;
  if (!current) return undefined;
  for (const entry of [...host.audit].reverse()) {
    if (entry.action !== "deploy" && entry.action !== "rollback") continue;
    const switched = /^(\S+) -> (\S+)/.exec(entry.detail);
    if (switched && switched[2] === current && switched[1] !== "none") return switched[1];
  }
  return host.releases.find((r) => r.id !== current)?.id;
}

export interface ContainerState {
  service: string;
  state: string;
  health: string;
  status: string;
}

/** An API instance's own view of itself: its /health/details, read on the host. */
export interface InstanceHealth {
  port: number;
  /** 0: not answering. */
  httpStatus: number;
  body: unknown;
}

export interface Status {
  apiHost: string;
  /** The bare status through Caddy and TLS: what clients see. */
  health: { httpStatus: number; body: unknown };
  instances: InstanceHealth[];
  containers: ContainerState[];
  release: string | null;
  jetstream: {
    memoryBytes: number;
    storageBytes: number;
    maxMemoryBytes: number;
    maxStorageBytes: number;
    streams: number;
    messages: number;
  } | null;
  disk: { dataBytes: number; availableBytes: number } | null;
  certificate: { notAfter: string; daysLeft: number; issuer: string } | null;
  lastBackup: string | null;
  /** The host's backup timer; null where there is none (the local stack). */
  backupTimer: { next: string; lastResult: string; lastFinished: string } | null;
}

export function parseStatus(output: string, now = new Date()): Status {
  const s = sections(output);
  const healthLines = s.health ?? [];
  const httpStatus = Number(healthLines.at(-1) ?? 0);
  const bodyText = healthLines.slice(0, -1).join("\n");
  const containers = (s.containers ?? []).flatMap((line) => {
    // Compose prints one JSON object per line (or, older, one array).
    const parsed = tryJson(line);
    const list = Array.isArray(parsed) ? parsed : parsed ? [parsed] : [];
    return (list as Record<string, unknown>[]).map((c) => ({
      service: String(c.Service ?? c.Name ?? ""),
      state: String(c.State ?? ""),
      health: String(c.Health ?? ""),
      status: String(c.Status ?? ""),
    }));
  });
  const jsz = tryJson((s.jetstream ?? []).join("")) as
    | {
        memory?: number;
        storage?: number;
        streams?: number;
        messages?: number;
        config?: { max_memory?: number; max_storage?: number };
      }
    | undefined;
  const [dataBytes, availableBytes] = (s.disk ?? []).map(Number);
  const cert = keyValues(s.certificate ?? []);
  const notAfter = cert.notAfter ? new Date(cert.notAfter) : undefined;
  const timer = keyValues(s.backup_timer ?? []);
  const instances = (s.instances ?? []).flatMap((line) => {
    const [port, body, code] = line.split("\t");
    return port && code !== undefined
      ? [{ port: Number(port), httpStatus: Number(code), body: tryJson(body ?? "") ?? body ?? "" }]
      : [];
  });
  return {
    apiHost: s.api_host?.[0] ?? "",
    health: { httpStatus, body: tryJson(bodyText) ?? bodyText },
    instances,
    containers,
    release: s.release?.[0] ?? null,
    jetstream: jsz
      ? {
          memoryBytes: Number(jsz.memory ?? 0),
          storageBytes: Number(jsz.storage ?? 0),
          maxMemoryBytes: Number(jsz.config?.max_memory ?? 0),
          maxStorageBytes: Number(jsz.config?.max_storage ?? 0),
          streams: Number(jsz.streams ?? 0),
          messages: Number(jsz.messages ?? 0),
        }
      : null,
    disk:
      dataBytes !== undefined && !Number.isNaN(dataBytes) ? { dataBytes, availableBytes: availableBytes ?? 0 } : null,
    certificate:
      notAfter && !Number.isNaN(notAfter.getTime())
        ? {
            notAfter: notAfter.toISOString(),
            daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000),
            issuer: (cert.issuer ?? "").trim(),
          }
        : null,
    lastBackup: s.backup?.[0] ?? null,
    backupTimer:
      timer.next !== undefined
        ? { next: timer.next, lastResult: timer.result ?? "", lastFinished: timer.finished ?? "" }
        : null,
  };
}

/** "key=value" lines, split at the first "=". */
function keyValues(lines: string[]): Record<string, string> {
  return Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
}

/** An instance's details in a line: its status and why, and how full the store is. */
function describeInstance(instance: InstanceHealth): string {
  if (instance.httpStatus === 0) return "not answering";
  const body = (typeof instance.body === "object" && instance.body ? instance.body : {}) as {
    status?: string;
    reason?: string;
    instance?: string;
    provider?: string;
    activeGenerations?: number;
    storage?: { stream?: string; used?: number; limitBytes?: number };
  };
  const parts = [
    `${body.status ?? `HTTP ${instance.httpStatus}`}${body.reason ? ` (${body.reason})` : ""}`,
    ...(body.instance ? [`${body.instance}, ${body.provider ?? "?"}, ${body.activeGenerations ?? 0} answering`] : []),
    ...(body.storage?.stream
      ? [
          `fullest ${body.storage.stream} ${Math.round((body.storage.used ?? 0) * 100)}% of ${size(body.storage.limitBytes ?? 0)}`,
        ]
      : []),
  ];
  return parts.join("; ");
}

/** How the last scheduled backup went, for a person: systemd says "success" or why it failed. */
function describeTimer(timer: NonNullable<Status["backupTimer"]>): string {
  const last = !timer.lastFinished
    ? "not run yet"
    : timer.lastResult === "success"
      ? `last run ${timer.lastFinished} succeeded`
      : `LAST RUN FAILED (${timer.lastResult}) at ${timer.lastFinished}: npm run ops -- ssh sudo journalctl -u platform-backup`;
  return `next ${timer.next || "not scheduled"}; ${last}`;
}

function tryJson(text: string): unknown {
  try {
    return text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

const size = (bytes: number) =>
  bytes >= 1 << 30
    ? `${(bytes / (1 << 30)).toFixed(1)} GiB`
    : bytes >= 1 << 20
      ? `${(bytes / (1 << 20)).toFixed(1)} MiB`
      : `${Math.round(bytes / 1024)} KiB`;

/** One screen for a person. */
export function formatStatus(target: string, status: Status): string {
  const healthy = status.health.httpStatus === 200;
  const js = status.jetstream;
  const lines = [
    `${target}`,
    `  API        ${healthy ? "healthy" : `NOT healthy (HTTP ${status.health.httpStatus})`} through Caddy at https://${status.apiHost}`,
    ...status.instances.map((i) => `  instance   127.0.0.1:${i.port} ${describeInstance(i)}`),
    `  release    ${status.release ?? "none recorded"}`,
    ...status.containers.map(
      (c) => `  ${c.service.padEnd(10)} ${c.state}${c.health ? ` (${c.health})` : ""}  ${c.status}`,
    ),
    js
      ? `  JetStream  ${js.streams} streams, ${js.messages} messages; file ${size(js.storageBytes)} of ${size(js.maxStorageBytes)}, memory ${size(js.memoryBytes)} of ${size(js.maxMemoryBytes)}`
      : "  JetStream  not answering (NATS monitoring, inside its container)",
    status.disk
      ? `  data       ${size(status.disk.dataBytes)} used, ${size(status.disk.availableBytes)} free`
      : "  data       unknown",
    status.certificate
      ? `  TLS        expires ${status.certificate.notAfter.slice(0, 10)} (${status.certificate.daysLeft} days), ${status.certificate.issuer}`
      : "  TLS        no certificate yet",
    `  backup     ${status.lastBackup ?? "none yet"}`,
    ...(status.backupTimer ? [`  schedule   ${describeTimer(status.backupTimer)}`] : []),
  ];
  return lines.join("\n");
}
