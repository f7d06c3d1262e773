// A backup folder checked or restored in one call, as tests use them. The
// ops commands do it in steps (scripts/ops/commands/backup.ts): open the
// backup (which may need a download or a key), stop the API, restore.
import type { NatsConnection } from "@nats-io/transport-node";
import {
  folderSource,
  openBackup,
  restoreVerified,
  type OpenOptions,
  type RestoreOptions,
} from "../../scripts/backup/backup.js";
import type { Manifest } from "../../scripts/backup/manifest.js";

/** Reads a backup folder's manifest and checks every file against it; throws, naming each problem, unless all is whole. */
export async function verifyBackup(dir: string, options: OpenOptions = {}): Promise<Manifest> {
  const opened = await openBackup(folderSource(dir), options);
  opened.cleanup();
  return opened.manifest;
}

/** Checks the backup folder `dir` whole, then restores every stream of it (restoreVerified). */
export async function restoreBackup(nc: NatsConnection, dir: string, options: RestoreOptions): Promise<Manifest> {
  const opened = await openBackup(folderSource(dir), options);
  try {
    await restoreVerified(nc, opened.dir, opened.manifest, options);
    return opened.manifest;
  } finally {
    opened.cleanup();
  }
}
