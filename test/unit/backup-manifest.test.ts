import { describe, expect, it } from "vitest";
import {
  FORMAT,
  backupName,
  backupsToDelete,
  checkFiles,
  compareRestored,
  parseManifest,
  planRestore,
  type Manifest,
  type StreamEntry,
} from "../../scripts/backup/manifest.js";

const entry = (name: string, messages: number, lastSeq: number, config: Record<string, unknown> = {}): StreamEntry => ({
  name,
  file: `streams/${name}.tar.s2`,
  bytes: 10,
  sha256: "a".repeat(64),
  messages,
  firstSeq: 1,
  lastSeq,
  messagesAtEnd: messages,
  lastSeqAtEnd: lastSeq,
  config,
  state: {},
});
const manifest = (streams: StreamEntry[]): Manifest => ({
  format: FORMAT,
  name: "backup-20261127T100000Z",
  createdAt: "2026-11-27T10:00:00.000Z",
  source: "test",
  server: { version: "2.10.29" },
  streams,
});

describe("backup manifests", () => {
  it("names backups by the second they were taken, so names sort by age", () => {
    expect(backupName(new Date("2026-11-27T09:05:03.123Z"))).toBe("backup-20261127T090503Z");
    expect(backupName(new Date("2026-11-27T10:00:00Z")) > backupName(new Date("2026-11-27T09:59:59Z"))).toBe(true);
  });

  it("reads back what it writes, and refuses a manifest of another shape, saying where", () => {
    const written = manifest([entry("CONVERSATIONS", 5, 9)]);
    expect(parseManifest(JSON.stringify(written), "dir")).toEqual(written);
    expect(() => parseManifest(JSON.stringify({ ...written, format: "other/1" }), "dir")).toThrow(
      /dir: the manifest is not one this tool writes \(format: /,
    );
    expect(() =>
      parseManifest(JSON.stringify(manifest([{ ...entry("X", 1, 1), file: "../../etc/passwd" }])), "dir"),
    ).toThrow(/streams\.0\.file/);
  });

  it("finds every missing, short or altered file", () => {
    const m = manifest([entry("A", 1, 1), entry("B", 1, 1), entry("C", 1, 1)]);
    const found = new Map([
      ["streams/A.tar.s2", { bytes: 10, sha256: "a".repeat(64) }],
      ["streams/B.tar.s2", { bytes: 9, sha256: "a".repeat(64) }],
      ["streams/C.tar.s2", undefined],
    ]);
    expect(checkFiles(m, found)).toEqual([
      "streams/B.tar.s2 has 9 bytes, the manifest says 10 (cut short or altered)",
      "streams/C.tar.s2 is missing",
    ]);
    found.set("streams/B.tar.s2", { bytes: 10, sha256: "b".repeat(64) });
    expect(checkFiles(m, found)[0]).toBe("streams/B.tar.s2 does not match its checksum (altered)");
  });

  it("restores into missing or empty streams, and over ones holding messages only when told", () => {
    const m = manifest([entry("A", 5, 5), entry("B", 5, 5), entry("C", 5, 5)]);
    const live = [
      { name: "B", messages: 0 },
      { name: "C", messages: 7 },
    ];
    const plan = planRestore(m, live, false);
    expect(plan.create.map((e) => e.name)).toEqual(["A"]);
    expect(plan.replace.map((e) => e.name)).toEqual(["B"]);
    expect(plan.refused).toEqual(["C (7 messages)"]);
    expect(planRestore(m, live, true)).toMatchObject({ refused: [], replace: [{ name: "B" }, { name: "C" }] });
  });

  it("leaves state of the running processes alone: older backups' leases, rate-limit counters held now", () => {
    const m = manifest([entry("CONVERSATIONS", 5, 5), entry("KV_generation-leases", 2, 2)]);
    const plan = planRestore(m, [{ name: "KV_rate-limits", messages: 9 }], false);
    expect(plan).toMatchObject({ create: [{ name: "CONVERSATIONS" }], replace: [], refused: [] });
  });

  it("proves a restore by count and last sequence, letting a stream with a maximum age drop what aged out", () => {
    expect(compareRestored(entry("A", 5, 9), { messages: 5, last_seq: 9 })).toBeUndefined();
    expect(compareRestored(entry("A", 5, 9), { messages: 4, last_seq: 9 })).toBe(
      "A: restored 4 messages up to sequence 9, the backup holds 5 up to 9",
    );
    expect(compareRestored(entry("A", 5, 9), { messages: 5, last_seq: 8 })).toMatch(/up to sequence 8/);
    // Written to while the snapshot ran: anything between its two ends.
    const busy = { ...entry("A", 5, 9), messagesAtEnd: 8, lastSeqAtEnd: 12 };
    expect(compareRestored(busy, { messages: 6, last_seq: 10 })).toBeUndefined();
    expect(compareRestored(busy, { messages: 9, last_seq: 13 })).toBe(
      "A: restored 9 messages up to sequence 13, the backup holds 5-8 up to 9-12 (written to while it was taken)",
    );
    const leases = entry("KV_leases", 5, 9, { max_age: 30_000_000_000 });
    expect(compareRestored(leases, { messages: 0, last_seq: 9 })).toBeUndefined();
    expect(compareRestored(leases, { messages: 0, last_seq: 3 })).toBeDefined();
  });

  it("keeps the newest N backups, ignoring other names", () => {
    const names = ["backup-20261127T100000Z", "backup-20261127T080000Z", "notes", "backup-20261127T090000Z"];
    expect(backupsToDelete(names, 2)).toEqual(["backup-20261127T080000Z"]);
    expect(backupsToDelete(names, 5)).toEqual([]);
    expect(() => backupsToDelete(names, 0)).toThrow(/keep at least one backup/);
  });
});
