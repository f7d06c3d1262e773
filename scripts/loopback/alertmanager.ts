// A real Alertmanager (Debian's prometheus-alertmanager 0.25) on loopback,
// with a rendered config and its secret files in a scratch folder: what the
// alert delivery tests post alerts to. Clustering is off, so nothing listens
// beyond the one loopback port (its default gossip port is on every address).
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AlertmanagerFiles } from "../../infra/monitoring/alertmanager-config.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";
import { scratchDir } from "./tmp.js";

export interface LoopbackAlertmanager {
  port: number;
  /** http://127.0.0.1:port */
  url: string;
  /** Where the config and secrets are: the secretsDir the config was rendered with must be `${dir}/secrets`. */
  dir: string;
  output: string[];
  stop(): Promise<void>;
}

/** The folder to render the config's secrets into before start (renderAlertmanagerConfig's secretsDir). */
export function alertmanagerScratch(): { dir: string; secretsDir: string; remove(): void } {
  const scratch = scratchDir("alertmanager");
  const secretsDir = join(scratch.path, "secrets");
  mkdirSync(secretsDir, { mode: 0o700 });
  return { dir: scratch.path, secretsDir, remove: scratch.remove };
}

export async function startAlertmanager(
  files: AlertmanagerFiles,
  scratch: { dir: string; remove(): void },
): Promise<LoopbackAlertmanager> {
  // As the host step installs them: each file 0600 (mode set after the write, whatever the umask).
  const configPath = join(scratch.dir, "alertmanager.yml");
  for (const file of [{ ...files.config, path: configPath }, ...files.secrets]) {
    writeFileSync(file.path, file.content, { mode: file.mode });
    chmodSync(file.path, file.mode);
  }
  const port = await freePort();
  const process = new ManagedProcess("alertmanager", "prometheus-alertmanager", [
    `--config.file=${configPath}`,
    `--storage.path=${join(scratch.dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--cluster.listen-address=",
  ]);
  try {
    await process.waitFor(/msg="Listening on"/);
  } catch (error) {
    await process.stop();
    scratch.remove();
    throw error;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    dir: scratch.dir,
    output: process.output,
    stop: async () => {
      await process.stop();
      scratch.remove();
    },
  };
}
