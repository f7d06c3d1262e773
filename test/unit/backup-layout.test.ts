// What a backup may hold and where its files land, decided before anything
// is read or written (scripts/backup/layout.ts), and the streams a restore
// brings back with the app's own configuration (scripts/backup/owned-streams.ts).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chatBuckets, conversationStreamConfig } from "../../app/src/store/storage-config.js";
import {
  backupName,
  backupNameProblem,
  encryptionVerdict,
  pathInside,
  readLayout,
  sortBackupNames,
} from "../../scripts/backup/layout.js";
import {
  BACKED_UP_STREAMS,
  backedUpStreams,
  isKnownStream,
  storageOptionsOf,
} from "../../scripts/backup/owned-streams.js";

const NOW = new Date("2026-11-28T12:00:00Z");

describe("backup names", () => {
  it("accepts the names this tool gives, up to a few minutes ahead of this clock", () => {
    expect(backupNameProblem(backupName(NOW), NOW)).toBeUndefined();
    expect(backupNameProblem("backup-20261128T120400Z", NOW)).toBeUndefined();
    expect(backupNameProblem("backup-20200101T000000Z", NOW)).toBeUndefined();
  });

  it("refuses names of the wrong shape, impossible dates and dates in the future", () => {
    expect(backupNameProblem("backup-20261128T120000Z/../../x", NOW)).toMatch(/not a backup's name/);
    expect(backupNameProblem("../backup-20261128T120000Z", NOW)).toMatch(/not a backup's name/);
    expect(backupNameProblem("backup-2026112T120000Z", NOW)).toMatch(/not a backup's name/);
    expect(backupNameProblem("backup-20260231T120000Z", NOW)).toBe("not a real date and time");
    expect(backupNameProblem("backup-20261128T250000Z", NOW)).toBe("not a real date and time");
    expect(backupNameProblem("backup-20991231T235959Z", NOW)).toBe(
      "dated in the future (this machine's clock says 2026-11-28T12:00:00.000Z)",
    );
    expect(backupNameProblem("backup-20261128T120600Z", NOW)).toMatch(/dated in the future/);
  });

  it("sorts backups oldest first and says which names it ignored and why", () => {
    const { backups, ignored } = sortBackupNames(
      [
        "backup-20261128T100000Z",
        "backup-20991231T235959Z",
        "backup-20261127T100000Z",
        "notes",
        "backup-20261127T100000Z",
      ],
      NOW,
    );
    expect(backups).toEqual(["backup-20261127T100000Z", "backup-20261128T100000Z"]);
    expect(ignored).toEqual([
      { name: "backup-20991231T235959Z", why: expect.stringMatching(/dated in the future/) },
      { name: "notes", why: expect.stringMatching(/not a backup's name/) },
    ]);
  });
});

describe("a backup's files", () => {
  it("takes only its manifest and the snapshots of known streams, plain or all encrypted", () => {
    expect(
      readLayout(["manifest.json", "streams/CONVERSATIONS.tar.s2", "streams/KV_conversations.tar.s2"], "b"),
    ).toEqual({
      encrypted: false,
      manifest: "manifest.json",
      snapshots: new Set(["streams/CONVERSATIONS.tar.s2", "streams/KV_conversations.tar.s2"]),
    });
    expect(readLayout(["streams/CONVERSATIONS.tar.s2.age", "manifest.json.age"], "b")).toEqual({
      encrypted: true,
      manifest: "manifest.json.age",
      snapshots: new Set(["streams/CONVERSATIONS.tar.s2"]),
    });
    // Older backups hold the leases of their day.
    expect(readLayout(["manifest.json", "streams/KV_generation-leases.tar.s2"], "b").snapshots.size).toBe(1);
  });

  it("refuses any other file, naming it: traversal, unknown streams, strays", () => {
    for (const file of [
      "../../../home/op/.bashrc",
      "streams/../../x",
      "streams/EVIL.tar.s2",
      "streams/CONVERSATIONS.tar.s2/../../../x",
      "streams/sub/CONVERSATIONS.tar.s2",
      "/etc/passwd",
      "notes.txt",
      "manifest.json.bak",
    ])
      expect(() => readLayout(["manifest.json", file], "s3://b backup-x"), file).toThrow(
        `s3://b backup-x holds files this tool never writes, so nothing was taken from it: ${JSON.stringify(file)}.`,
      );
  });

  it("leaves other files in an operator's folder unread, where a bucket's are refused", () => {
    const files = ["README.md", "manifest.json", "streams/CONVERSATIONS.tar.s2", "../x"];
    expect(readLayout(files, "folder", "ignore").snapshots).toEqual(new Set(["streams/CONVERSATIONS.tar.s2"]));
    expect(() => readLayout(files, "bucket")).toThrow(/"README\.md", "\.\.\/x"/);
  });

  it("refuses a backup that mixes encrypted and plaintext files, or has no manifest", () => {
    expect(() => readLayout(["manifest.json.age", "streams/CONVERSATIONS.tar.s2"], "b")).toThrow(
      /b mixes encrypted files \(manifest\.json\.age\) with plaintext ones \(streams\/CONVERSATIONS\.tar\.s2\)/,
    );
    expect(() => readLayout(["streams/CONVERSATIONS.tar.s2"], "b")).toThrow(
      /b has no manifest\.json: the backup did not finish/,
    );
    expect(() => readLayout(["streams/CONVERSATIONS.tar.s2.age"], "b")).toThrow(/b has no manifest\.json\.age/);
  });

  it("keeps every path it writes inside its folder", () => {
    const root = "/tmp/restore-x";
    expect(pathInside(root, "streams/CONVERSATIONS.tar.s2")).toBe(join(root, "streams/CONVERSATIONS.tar.s2"));
    for (const file of ["../x", "streams/../../x", "/etc/passwd", "a//b", "./a", "", ".", "a\\..\\..\\b", "a\0b"])
      expect(() => pathInside(root, file), JSON.stringify(file)).toThrow(
        /would be written outside \/tmp\/restore-x: refused/,
      );
  });
});

describe("whether a backup may be read, encrypted or not", () => {
  it("needs an identity for an encrypted one", () => {
    expect(encryptionVerdict(true, "b", { identities: ["AGE-SECRET-KEY-1X"] })).toEqual({});
    expect(encryptionVerdict(true, "b", {}).refusal).toMatch(
      /b is encrypted: give the age identity .* --identity FILE/,
    );
  });

  it("refuses a plaintext one where the stack encrypts, unless told, and then warns", () => {
    expect(encryptionVerdict(false, "b", { expectEncrypted: true }).refusal).toMatch(
      /b is not encrypted, but this stack encrypts its backups \(backupRecipients, or the identity given\).*--allow-unencrypted/,
    );
    expect(encryptionVerdict(false, "b", { expectEncrypted: true, allowUnencrypted: true })).toEqual({
      warning: expect.stringMatching(/^WARNING: b is not encrypted; restoring it because of --allow-unencrypted/),
    });
  });
  it("takes an identity given as the operator expecting encrypted backups: a plaintext one in their place is refused", () => {
    // A server named by --host has no stack to say it encrypts; the identity does.
    expect(encryptionVerdict(false, "b", { identities: ["AGE-SECRET-KEY-1X"] }).refusal).toMatch(
      /b is not encrypted, but this stack encrypts its backups/,
    );
  });

  it("warns about a plaintext one even where the stack does not encrypt", () => {
    expect(encryptionVerdict(false, "b", {})).toEqual({
      warning: expect.stringMatching(
        /^WARNING: b is not encrypted: whoever can write to the bucket .* backupRecipients/,
      ),
    });
  });
});

describe("the streams a backup holds, from the app's declarations", () => {
  const options = { replicas: 3, leaseTtlMs: 15_000, retentionMs: 86_400_000, maxBytes: 1024 ** 3 };

  it("are the API's conversation log and its lasting buckets, never the state of running processes", () => {
    expect(BACKED_UP_STREAMS).toEqual([
      "CONVERSATIONS",
      "KV_conversation-contexts",
      "KV_conversations",
      // Restored, so that a restore lets no revoked user's tokens back in.
      "KV_revocations",
    ]);
    for (const stream of ["KV_active-answers", "KV_rate-limits", "KV_generation-leases"]) {
      expect(BACKED_UP_STREAMS).not.toContain(stream);
      expect(isKnownStream(stream)).toBe(true);
    }
    expect(isKnownStream("EVIL")).toBe(false);
  });

  it("are configured as the API configures them, with the platform's settings", () => {
    const configs = backedUpStreams(options);
    expect(configs.get("CONVERSATIONS")).toEqual(conversationStreamConfig(options));
    const conversations = chatBuckets(options).find((b) => b.name === "conversations")!;
    expect(configs.get("KV_conversations")).toMatchObject({
      subjects: ["$KV.conversations.>"],
      max_msgs_per_subject: 1,
      num_replicas: 3,
      max_age: 86_400_000 * 1_000_000,
      max_bytes: conversations.options.max_bytes,
      allow_rollup_hdrs: true,
    });
  });

  it("take the platform's settings from the conversation log the API made", () => {
    const made = conversationStreamConfig(options);
    expect(storageOptionsOf(made)).toEqual({ ...options, leaseTtlMs: expect.any(Number) });
    expect(storageOptionsOf({ ...made, max_bytes: -1 })).toBeUndefined();
  });
});
