// The ops commands' decisions, from what the host scripts print.
import { describe, expect, it } from "vitest";
import { formatStatus, parseReleases, parseStatus, previousRelease, sections } from "../../scripts/ops/parse.js";

describe("the host scripts' sections", () => {
  it("splits output into named sections, dropping blank lines", () => {
    expect(sections("== a\n1\n\n2\n== b\n== c\nx\n")).toEqual({ a: ["1", "2"], b: [], c: ["x"] });
  });
});

const RELEASES = `== current
bbbbbbbbbbbb
== releases
cccccccccccc\t2026-11-27T10:00:00Z
bbbbbbbbbbbb\t2026-11-27T09:00:00Z
aaaaaaaaaaaa\t2026-11-27T08:00:00Z
== audit
2026-11-27T08:00:01Z\tpulumi up\tdeploy\tnone -> aaaaaaaaaaaa
2026-11-27T09:00:01Z\tops@laptop\tdeploy\taaaaaaaaaaaa -> bbbbbbbbbbbb
2026-11-27T10:00:01Z\tops@laptop\tdeploy-failed\tbbbbbbbbbbbb -> cccccccccccc: not healthy, bbbbbbbbbbbb back in service
`;

describe("releases and rollback", () => {
  it("reads the releases, the one in service and the audit log", () => {
    const host = parseReleases(RELEASES);
    expect(host.current).toBe("bbbbbbbbbbbb");
    expect(host.releases.map((r) => r.id)).toEqual(["cccccccccccc", "bbbbbbbbbbbb", "aaaaaaaaaaaa"]);
    expect(host.audit[1]).toEqual({
      at: "2026-11-27T09:00:01Z",
      actor: "ops@laptop",
      action: "deploy",
      detail: "aaaaaaaaaaaa -> bbbbbbbbbbbb",
    });
  });

  it("goes back to the release the one in service replaced, not the newest other (a failed deploy's)", () => {
    expect(previousRelease(parseReleases(RELEASES))).toBe("aaaaaaaaaaaa");
  });

  it("follows rollbacks too, and falls back to the newest other release without an audit", () => {
    const afterRollback = parseReleases(
      RELEASES.replace("== current\nbbbbbbbbbbbb", "== current\naaaaaaaaaaaa") +
        "2026-11-27T11:00:00Z\tops@laptop\trollback\tbbbbbbbbbbbb -> aaaaaaaaaaaa\n",
    );
    expect(previousRelease(afterRollback)).toBe("bbbbbbbbbbbb");
    expect(previousRelease({ ...parseReleases(RELEASES), audit: [] })).toBe("cccccccccccc");
    expect(previousRelease({ current: undefined, releases: [], audit: [] })).toBeUndefined();
  });
});

const STATUS = `== api_host
api.example.com
== health
{"status":"ok"}
200
== instances
8081\t{"status":"degraded","reason":"store_nearly_full","storage":{"stream":"CONVERSATIONS","state":"degraded","usedBytes":9663676416,"limitBytes":10737418240,"used":0.9,"readAt":"2027-01-26T11:59:59.000Z"},"nats":"connected","provider":"anthropic","instance":"api-1","activeGenerations":2}\t200
8082\t\t000
== containers
{"Service":"api-1","State":"running","Health":"healthy","Status":"Up 2 minutes (healthy)"}
{"Service":"nats","State":"running","Health":"healthy","Status":"Up 3 minutes (healthy)"}
== release
aaaaaaaaaaaa
== jetstream
{"memory":0,"storage":2048,"streams":3,"messages":12,"config":{"max_memory":268435456,"max_storage":21474836480}}
== disk
123456
987654321
== certificate
notAfter=Feb 25 12:00:00 2027 GMT
issuer=C = US, O = Let's Encrypt, CN = R11
== backup
backup-20261127T100000Z uploaded to s3://chat-backups at https://ewr1.vultrobjects.com by the timer
== backup_timer
next=Wed 2027-01-26 13:00:00 UTC
result=exit-code
finished=Wed 2027-01-26 12:00:41 UTC
`;

describe("status", () => {
  it("reads every section into data", () => {
    const status = parseStatus(STATUS, new Date("2027-01-26T12:00:00Z"));
    expect(status).toEqual({
      apiHost: "api.example.com",
      health: { httpStatus: 200, body: { status: "ok" } },
      instances: [
        {
          port: 8081,
          httpStatus: 200,
          body: {
            status: "degraded",
            reason: "store_nearly_full",
            storage: {
              stream: "CONVERSATIONS",
              state: "degraded",
              usedBytes: 9663676416,
              limitBytes: 10737418240,
              used: 0.9,
              readAt: "2027-01-26T11:59:59.000Z",
            },
            nats: "connected",
            provider: "anthropic",
            instance: "api-1",
            activeGenerations: 2,
          },
        },
        { port: 8082, httpStatus: 0, body: "" },
      ],
      containers: [
        { service: "api-1", state: "running", health: "healthy", status: "Up 2 minutes (healthy)" },
        { service: "nats", state: "running", health: "healthy", status: "Up 3 minutes (healthy)" },
      ],
      release: "aaaaaaaaaaaa",
      jetstream: {
        memoryBytes: 0,
        storageBytes: 2048,
        maxMemoryBytes: 268435456,
        maxStorageBytes: 21474836480,
        streams: 3,
        messages: 12,
      },
      disk: { dataBytes: 123456, availableBytes: 987654321 },
      certificate: {
        notAfter: "2027-02-25T12:00:00.000Z",
        daysLeft: 30,
        issuer: "C = US, O = Let's Encrypt, CN = R11",
      },
      lastBackup: "backup-20261127T100000Z uploaded to s3://chat-backups at https://ewr1.vultrobjects.com by the timer",
      backupTimer: {
        next: "Wed 2027-01-26 13:00:00 UTC",
        lastResult: "exit-code",
        lastFinished: "Wed 2027-01-26 12:00:41 UTC",
      },
    });
    const text = formatStatus("deploy@203.0.113.10:22", status);
    expect(text).toContain(
      "instance   127.0.0.1:8081 degraded (store_nearly_full); api-1, anthropic, 2 answering; fullest CONVERSATIONS 90% of 10.0 GiB",
    );
    expect(text).toContain("instance   127.0.0.1:8082 not answering");
    expect(formatStatus("deploy@203.0.113.10:22", status)).toContain(
      "schedule   next Wed 2027-01-26 13:00:00 UTC; LAST RUN FAILED (exit-code) at Wed 2027-01-26 12:00:41 UTC: npm run ops -- ssh sudo journalctl -u platform-backup",
    );
  });

  it("says plainly what is missing or failing", () => {
    const status = parseStatus("== api_host\napi.example.com\n== health\n000\n== containers\n== jetstream\n\n");
    expect(status.health.httpStatus).toBe(0);
    expect(status.jetstream).toBeNull();
    expect(status.certificate).toBeNull();
    const text = formatStatus("deploy@203.0.113.10:22", status);
    expect(text).toContain("NOT healthy (HTTP 0)");
    expect(text).toContain("JetStream  not answering");
    expect(text).toContain("TLS        no certificate yet");
    expect(text).toContain("backup     none yet");
    expect(status.backupTimer).toBeNull();
  });
});
