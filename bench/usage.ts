// What a process costs, read from /proc: CPU seconds (user + system) and
// resident memory. Linux only, as the benchmark is.
import { readFileSync } from "node:fs";

/** Clock ticks per second, as the kernel reports times in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS = 100;

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces: fields start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** CPU seconds that `pids` spent while `work` ran. */
export async function cpuDuring<T>(
  pids: readonly number[],
  work: () => Promise<T>,
): Promise<{ value: T; cpu: number }> {
  const before = pids.map(cpuSeconds);
  const value = await work();
  const after = pids.map(cpuSeconds);
  return { value, cpu: after.reduce((sum, a, i) => sum + a - before[i]!, 0) };
}
