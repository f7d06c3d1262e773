// `ops backup` records the backup it took in the data directory's
// backups/last as root (templates/host/ops/record-backup.sh), in a folder the
// containers' user (uid 10001) may write. Run here for real, as root, the way
// the host runs it: a link that user planted must lead root nowhere.
import {
  chmodSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadTemplates } from "../../infra/host/templates.js";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { recordBackupCommand } from "../../scripts/ops/host-commands.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const CONTAINER_UID = 10001;

describe("recording the last backup on the host (record-backup.sh)", () => {
  let scratch: ReturnType<typeof scratchDir>;
  let dataDir: string;
  let victim: string;

  beforeEach(() => {
    if (process.getuid?.() !== 0)
      throw new Error("this test runs the host script as root, as the host does: run it as root");
    scratch = scratchDir("record-backup");
    chmodSync(scratch.path, 0o755);
    // As the bootstrap makes them: the data directory root's, its backups folder the containers' user's.
    dataDir = join(scratch.path, "data");
    mkdirSync(join(dataDir, "backups"), { recursive: true });
    chmodSync(dataDir, 0o750);
    chownSync(join(dataDir, "backups"), CONTAINER_UID, CONTAINER_UID);
    chmodSync(join(dataDir, "backups"), 0o700);
    // A file only root may write: what a planted link points at.
    victim = join(scratch.path, "root-only");
    writeFileSync(victim, "root's own\n", { mode: 0o600 });
  });
  afterEach(() => scratch.remove());

  const record = async (line: string) => {
    const command = recordBackupCommand(loadTemplates(), { appDir: join(scratch.path, "app"), dataDir }, line);
    return new LocalTransport().exec(command.command, command.script);
  };

  it("writes the line as the containers' user, replacing what was there", async () => {
    const result = await record("backup-20261127T100000Z downloaded by op@laptop");
    expect(result.code, result.stderr).toBe(0);
    const last = join(dataDir, "backups/last");
    expect(readFileSync(last, "utf8")).toBe("backup-20261127T100000Z downloaded by op@laptop\n");
    expect(statSync(last)).toMatchObject({ uid: CONTAINER_UID, gid: CONTAINER_UID });
    expect((await record("backup-20261127T110000Z uploaded")).code).toBe(0);
    expect(readFileSync(last, "utf8")).toBe("backup-20261127T110000Z uploaded\n");
  });

  it("never follows a link the containers' user planted: the file it points at keeps its content and owner", async () => {
    const last = join(dataDir, "backups/last");
    symlinkSync(victim, last);
    lchownSync(last, CONTAINER_UID, CONTAINER_UID);

    const result = await record("backup-20261127T100000Z downloaded by op@laptop");

    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(victim, "utf8")).toBe("root's own\n");
    expect(statSync(victim)).toMatchObject({ uid: 0, gid: 0 });
    // The link itself was replaced by the record.
    expect(lstatSync(last).isSymbolicLink()).toBe(false);
    expect(readFileSync(last, "utf8")).toBe("backup-20261127T100000Z downloaded by op@laptop\n");
  });
});
