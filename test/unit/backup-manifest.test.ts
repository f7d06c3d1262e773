import { describe, expect, it } from "vitest";
import { backupName } from "../../scripts/backup/layout.js";
import {
  FORMAT,
  backupsToDelete,
  checkFiles,
  compareRestored,
  parseManifest,
  planRestore,
  type Manifest,
  type StreamEntry,
} from "../../scripts/backup/manifest.js";

const entry = (name: string, messages: number, lastSeq: number): StreamEntry => ({
  name,
  file: `streams/${name}.tar.s2`,
  bytes: 10,
  sha256: "a".repeat(64),
  messages,
  firstSeq: 1,
  lastSeq,
  messagesAtEnd: messages,
  lastSeqAtEnd: lastSeq,
  state: { messages, bytes: 100, first_seq: 1, last_seq: lastSeq },
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
      parseManifest(JSON.stringify(manifest([{ ...entry("CONVERSATIONS", 1, 1), file: "../../etc/passwd" }])), "dir"),
    ).toThrow(/streams\.0\.file: "\.\.\/\.\.\/etc\/passwd" is not where this tool puts CONVERSATIONS/);
  });

  it("refuses a manifest that lists a stream the API does not own, or one twice", () => {
    for (const name of ["EVIL", "KV_other", "$JS.API", "CONVERSATIONS.>"])
      expect(() => parseManifest(JSON.stringify(manifest([entry(name, 1, 1)])), "bucket x"), name).toThrow(
        /bucket x: the manifest is not one this tool writes \(streams\.0\.name: ".*" is not a stream of the API's \(it has CONVERSATIONS, KV_conversation-contexts, KV_conversations, KV_revocations\)\)/,
      );
    expect(() =>
      parseManifest(JSON.stringify(manifest([entry("CONVERSATIONS", 1, 1), entry("CONVERSATIONS", 2, 2)])), "x"),
    ).toThrow(/CONVERSATIONS is listed twice/);
    // Older backups hold the leases of their day: known, and never restored.
    const old = parseManifest(JSON.stringify(manifest([entry("KV_generation-leases", 1, 1)])), "x");
    expect(planRestore(old, [], false)).toEqual({ create: [], replace: [], refused: [] });
  });

  it("keeps no stream configuration from a manifest, and only the counts of its state", () => {
    const written = {
      ...manifest([entry("CONVERSATIONS", 5, 9)]),
    };
    const hostile = JSON.parse(JSON.stringify(written)) as { streams: Record<string, unknown>[] };
    hostile.streams[0]!.config = { subjects: [">"], republish: { src: ">", dest: "stolen.>" } };
    hostile.streams[0]!.state = { messages: 5, bytes: 100, first_seq: 1, last_seq: 9, sources: ["X"] };
    const parsed = parseManifest(JSON.stringify(hostile), "x");
    expect(parsed.streams[0]).not.toHaveProperty("config");
    expect(parsed.streams[0]!.state).toEqual({ messages: 5, bytes: 100, first_seq: 1, last_seq: 9 });
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

  it("proves a restore by count and last sequence, letting a stream restored with a maximum age drop what aged out", () => {
    expect(compareRestored(entry("A", 5, 9), { messages: 5, last_seq: 9 }, 0)).toBeUndefined();
    expect(compareRestored(entry("A", 5, 9), { messages: 4, last_seq: 9 }, 0)).toBe(
      "A: restored 4 messages up to sequence 9, the backup holds 5 up to 9",
    );
    expect(compareRestored(entry("A", 5, 9), { messages: 5, last_seq: 8 }, 0)).toMatch(/up to sequence 8/);
    // Written to while the snapshot ran: anything between its two ends.
    const busy = { ...entry("A", 5, 9), messagesAtEnd: 8, lastSeqAtEnd: 12 };
    expect(compareRestored(busy, { messages: 6, last_seq: 10 }, 0)).toBeUndefined();
    expect(compareRestored(busy, { messages: 9, last_seq: 13 }, 0)).toBe(
      "A: restored 9 messages up to sequence 13, the backup holds 5-8 up to 9-12 (written to while it was taken)",
    );
    const retained = entry("CONVERSATIONS", 5, 9);
    expect(compareRestored(retained, { messages: 0, last_seq: 9 }, 30_000_000_000)).toBeUndefined();
    expect(compareRestored(retained, { messages: 0, last_seq: 3 }, 30_000_000_000)).toBeDefined();
  });

  it("keeps the newest N backups, ignoring other names", () => {
    const now = new Date("2026-11-28T00:00:00Z");
    const names = ["backup-20261127T100000Z", "backup-20261127T080000Z", "notes", "backup-20261127T090000Z"];
    expect(backupsToDelete(names, 2, now)).toEqual(["backup-20261127T080000Z"]);
    expect(backupsToDelete(names, 5, now)).toEqual([]);
    expect(() => backupsToDelete(names, 0, now)).toThrow(/keep at least one backup/);
  });

  it("does not let a name from the future count as the newest and push real backups out", () => {
    const now = new Date("2026-11-28T00:00:00Z");
    const names = ["backup-20261127T100000Z", "backup-20261127T090000Z", "backup-20991231T235959Z"];
    expect(backupsToDelete(names, 2, now)).toEqual([]);
    expect(backupsToDelete(names, 1, now)).toEqual(["backup-20261127T090000Z"]);
  });
});
