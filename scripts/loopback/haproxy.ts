// A real HAProxy (Debian bookworm's 2.6) on loopback, running a config
// rendered by haproxy-config.ts: checked with `haproxy -c` before it starts
// and before every reload, run in the foreground in master-worker mode
// (-W -db), and reloaded seamlessly: on SIGUSR2 the master starts a worker on
// the new config, which takes over the listening sockets, while the old
// worker finishes the connections it holds (a stream open through the load
// balancer survives a change of its nodes).
import { spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ManagedProcess } from "./process.js";
import { scratchDir } from "./tmp.js";

export const HAPROXY = "haproxy";

/** A config `haproxy -c` refuses; the message holds HAProxy's own reasons. */
export class HaproxyConfigRefused extends Error {
  constructor(
    readonly path: string,
    readonly reasons: string,
  ) {
    super(`haproxy -c refused ${path}:\n${reasons}`);
    this.name = "HaproxyConfigRefused";
  }
}

/** Runs `haproxy -c -f path`; throws HaproxyConfigRefused with HAProxy's alerts when the file is not valid. */
export function checkHaproxyConfig(path: string): void {
  const run = spawnSync(HAPROXY, ["-c", "-f", path], { encoding: "utf8" });
  if (run.error) {
    throw new Error(`could not run ${HAPROXY} (${run.error.message}): install it with apt-get install -y haproxy`, {
      cause: run.error,
    });
  }
  if (run.status !== 0) throw new HaproxyConfigRefused(path, `${run.stdout}${run.stderr}`.trim());
}

/** Where one proxy keeps its files: the config, and the runtime API's socket the config must name. */
export interface HaproxyScratch {
  dir: string;
  configPath: string;
  adminSocket: string;
  remove(): void;
}

export function haproxyScratch(): HaproxyScratch {
  const dir = scratchDir("haproxy");
  return {
    dir: dir.path,
    configPath: join(dir.path, "haproxy.cfg"),
    adminSocket: join(dir.path, "admin.sock"),
    remove: dir.remove,
  };
}

export interface LoopbackHaproxy {
  /** The master's pid; its workers are its children. */
  pid: number;
  configPath: string;
  adminSocket: string;
  /** The master's and the workers' output: each reload, each node going DOWN or UP. */
  output: string[];
  /** Checks the new config, then reloads to it; resolves once the new worker serves, throws if HAProxy refused it. */
  reload(config: string): Promise<void>;
  /** Runs a command on the runtime API (e.g. "show stat") and returns its answer. */
  command(line: string): Promise<string>;
  /** Stops the master and every worker, old ones holding connections too, and removes the files. */
  stop(): Promise<void>;
}

// The master's lines after it started a worker on a config, or failed to.
const LOADED = /Loading success\./;
const NOT_LOADED = /Loading failure!/;

/** Starts HAProxy on the config once `haproxy -c` passes it; on any failure the scratch folder is removed. */
export async function startHaproxy(
  config: string,
  scratch: HaproxyScratch,
  options: { name?: string; timeoutMs?: number } = {},
): Promise<LoopbackHaproxy> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  try {
    writeConfig(scratch.configPath, config);
  } catch (error) {
    scratch.remove();
    throw error;
  }
  const master = new ManagedProcess(options.name ?? "haproxy", HAPROXY, ["-W", "-db", "-f", scratch.configPath]);
  const loads = () => master.output.filter((line) => LOADED.test(line) || NOT_LOADED.test(line));
  try {
    // Either line ends the wait: a failed load is reported at once, with HAProxy's reasons.
    const outcome = await master.waitFor(new RegExp(`${LOADED.source}|${NOT_LOADED.source}`), timeoutMs);
    if (NOT_LOADED.test(outcome)) throw loadFailure(master.name, "could not start", master.output);
  } catch (error) {
    await master.stop();
    scratch.remove();
    throw error;
  }

  return {
    pid: master.pid,
    configPath: scratch.configPath,
    adminSocket: scratch.adminSocket,
    output: master.output,
    async reload(next) {
      writeConfig(scratch.configPath, next);
      const before = loads().length;
      const outputBefore = master.output.length;
      master.signal("SIGUSR2");
      const deadline = Date.now() + timeoutMs;
      while (loads().length === before) {
        if (!master.running || Date.now() > deadline) {
          throw new Error(
            `${master.name}: no reload seen after SIGUSR2 (running: ${master.running}). Output:\n` +
              master.output.slice(-40).join("\n"),
          );
        }
        await sleep(20);
      }
      const outcome = loads()[before]!;
      if (NOT_LOADED.test(outcome))
        throw loadFailure(master.name, "the reload failed", master.output.slice(outputBefore));
    },
    command: (line) => runtimeCommand(scratch.adminSocket, line),
    async stop() {
      // SIGTERM to the master stops every worker, old ones included; a
      // worker may still hold its ports for a moment after the master is gone.
      // Only pids that are still this HAProxy count: an old worker's pid may
      // by now belong to another process, which must be left alone.
      const workers = workerPids(master.output).filter((pid) => isHaproxyOf(pid, scratch.configPath));
      await master.stop();
      await waitForExit(workers, (pid) => isHaproxyOf(pid, scratch.configPath), timeoutMs);
      scratch.remove();
    },
  };
}

/** Writes the config beside the one in use and lets HAProxy check it: a refused one never replaces it. */
function writeConfig(path: string, config: string): void {
  const candidate = `${path}.next`;
  writeFileSync(candidate, config, { mode: 0o600 });
  checkHaproxyConfig(candidate);
  renameSync(candidate, path);
}

/** The pids of every worker the master said it forked, in order. */
export function workerPids(output: readonly string[]): number[] {
  return output.flatMap((line) => {
    const pid = /New worker \((\d+)\) forked/.exec(line)?.[1];
    return pid ? [Number(pid)] : [];
  });
}

/** Whether `pid` is a process of the HAProxy run on `configPath` (master and workers share its command line). */
export function isHaproxyOf(pid: number, configPath: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(configPath);
  } catch {
    return false; // no such process (any more)
  }
}

/** Sends `signal`; a process that exited in the meantime (ESRCH) is not an error. Returns whether it was sent. */
export function signalUnlessGone(
  pid: number,
  signal: NodeJS.Signals,
  kill: (pid: number, signal: NodeJS.Signals) => void = (p, s) => process.kill(p, s),
): boolean {
  try {
    kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * Waits until none of `pids` is still ours (`isOurs`), forgetting each once
 * it is gone, then SIGKILLs those still ours after `timeoutMs`.
 */
async function waitForExit(pids: number[], isOurs: (pid: number) => boolean, timeoutMs: number): Promise<void> {
  let left = pids.filter(isOurs);
  const deadline = Date.now() + timeoutMs;
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(20);
    left = left.filter(isOurs);
  }
  for (const pid of left.filter(isOurs)) signalUnlessGone(pid, "SIGKILL");
}

/** A failed load, with the alerts in `output` (why it failed) first, then its end. */
function loadFailure(name: string, what: string, output: readonly string[]): Error {
  const alerts = output.filter((line) => /\[ALERT\]/.test(line));
  return new Error(
    `${name}: ${what}: ${alerts.length > 0 ? alerts.join("\n") : "HAProxy gave no alert"}. Output:\n` +
      output.slice(-40).join("\n"),
  );
}

function runtimeCommand(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const connection = createConnection(socket, () => connection.end(`${line}\n`));
    connection.on("data", (chunk: Buffer) => chunks.push(chunk));
    connection.once("error", reject);
    connection.once("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}
