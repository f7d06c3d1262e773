// Backup and restore throughput against their baseline: `ops backup`'s and
// `ops restore`'s code (JetStream's snapshot and restore APIs through an SSH
// tunnel) on a store built for the measure, and a plain copy of the same
// bytes each way over the same SSH connection (SFTP), to a local sshd on
// loopback. The store and the backup live in scratch folders removed after.
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { totalReservedBytes } from "../../app/src/store/storage-config.js";
import { folderSource, openBackup, restoreVerified } from "../../scripts/backup/backup.js";
import { generateKeyPair } from "../../scripts/backup/encryption.js";
import { takeBackup } from "../../scripts/backup/take.js";
import { startNats } from "../../scripts/loopback/nats.js";
import { openTunnel } from "../../scripts/ops/tunnel.js";
import { startLocalSshd } from "../local-sshd.js";
import { round } from "../stats.js";
import { benchStorage, fillStore } from "./backup-store.js";

export interface BackupThroughput {
  /** The snapshots' bytes, as the backup holds them. */
  bytes: number;
  /** The store's bytes on the server, as JetStream counts them. */
  storeBytes: number;
  backupMBps: number;
  /** The same backup encrypted to an age recipient as it is written (backupRecipients). */
  encryptedBackupMBps: number;
  restoreMBps: number;
  /** SFTP from the server, as a backup moves its bytes. */
  copyDownMBps: number;
  /** SFTP to the server, as a restore moves its bytes. */
  copyUpMBps: number;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await work();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** `storeBytes`: how large a store to build (bounded by the server's file store, sized for it). */
export async function backupThroughput(options: {
  storeBytes: number;
  log: (line: string) => void;
}): Promise<BackupThroughput> {
  const storage = benchStorage(options.storeBytes);
  // The streams' reservations, and a restore's staged copy of the snapshot beside them.
  const maxFileStore = `${Math.ceil((totalReservedBytes(storage) + 2 * options.storeBytes) / 2 ** 20)}MB`;
  const nats = await startNats({ maxFileStore });
  const sshd = await startLocalSshd().catch(async (error: unknown) => {
    await nats.stop();
    throw error;
  });
  const natsPort = Number(new URL(nats.url).port);
  const overTunnel = async <T>(work: (nc: NatsConnection) => Promise<T>): Promise<T> => {
    const tunnel = await openTunnel(sshd.transport, natsPort);
    try {
      const nc = await connect({ servers: `127.0.0.1:${tunnel.port}`, token: nats.token });
      try {
        return await work(nc);
      } finally {
        await nc.close();
      }
    } finally {
      await tunnel.close();
    }
  };
  try {
    options.log(`building a store of ${round(options.storeBytes / 1e6)} MB`);
    const direct = await connect({ servers: nats.url, token: nats.token });
    try {
      await fillStore(direct, options.storeBytes, storage);
    } finally {
      await direct.close();
    }
    const root = join(sshd.dir, "backups");
    const { value: taken, seconds: backupSeconds } = await timed(() =>
      overTunnel((nc) => takeBackup(nc, root, "bench", () => undefined)),
    );
    const streams = taken.manifest.streams;
    const bytes = streams.reduce((sum, s) => sum + s.bytes, 0);
    const storeBytes = streams.reduce((sum, s) => sum + s.state.bytes, 0);
    options.log(`backup: ${round(bytes / 1e6)} MB in ${round(backupSeconds, 1)} s`);
    const { recipient } = await generateKeyPair();
    const encryptedRoot = join(sshd.dir, "encrypted");
    const { seconds: encryptedSeconds } = await timed(() =>
      overTunnel((nc) => takeBackup(nc, encryptedRoot, "bench", () => undefined, new Date(), [recipient])),
    );
    rmSync(encryptedRoot, { recursive: true, force: true });
    options.log(`encrypted backup: ${round(encryptedSeconds, 1)} s`);
    // The same files, copied down and up again over the same connection.
    const { seconds: copyDownSeconds } = await timed(async () => {
      for (const s of streams) await sshd.transport.download(join(taken.dir, s.file), join(sshd.dir, `down-${s.name}`));
    });
    const { seconds: copyUpSeconds } = await timed(async () => {
      for (const s of streams) await sshd.transport.upload(join(taken.dir, s.file), join(sshd.dir, `up-${s.name}`));
    });
    for (const s of streams)
      for (const copy of [`down-${s.name}`, `up-${s.name}`])
        if (statSync(join(sshd.dir, copy)).size !== s.bytes)
          throw new Error(`the SFTP copy ${copy} does not hold the ${s.bytes} bytes of ${s.file}`);
    // Checking the backup whole is the restore's first step, on this machine: not the link's time.
    const opened = await openBackup(folderSource(taken.dir), { log: () => undefined });
    const { seconds: restoreSeconds } = await timed(() =>
      overTunnel((nc) =>
        restoreVerified(nc, opened.dir, opened.manifest, { replaceLive: true, storage, log: () => undefined }),
      ),
    );
    options.log(`restore: ${round(restoreSeconds, 1)} s`);
    const mbps = (seconds: number) => round(bytes / 1e6 / seconds, 1);
    return {
      bytes,
      storeBytes,
      backupMBps: mbps(backupSeconds),
      encryptedBackupMBps: mbps(encryptedSeconds),
      restoreMBps: mbps(restoreSeconds),
      copyDownMBps: mbps(copyDownSeconds),
      copyUpMBps: mbps(copyUpSeconds),
    };
  } finally {
    await sshd.stop();
    await nats.stop();
  }
}
