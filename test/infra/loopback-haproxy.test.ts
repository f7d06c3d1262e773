// The loopback HAProxy's own care (scripts/loopback/haproxy.ts): stopping it
// signals only processes that are still this HAProxy, never a process that
// got an old worker's pid, and a reload HAProxy refuses fails at once with
// HAProxy's reason while the running config keeps serving.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  haproxyScratch,
  isHaproxyOf,
  signalUnlessGone,
  startHaproxy,
  workerPids,
  type HaproxyScratch,
} from "../../scripts/loopback/haproxy.js";

/** A config with only the runtime API: a proxy that listens on no TCP port until a reload gives it one. */
const bare = (files: HaproxyScratch) =>
  [
    "global",
    `  stats socket ${files.adminSocket} mode 600 level admin`,
    "defaults",
    "  mode tcp",
    "  timeout client 5s",
    "  timeout server 5s",
    "  timeout connect 5s",
    "",
  ].join("\n");

const withFrontend = (files: HaproxyScratch, port: number) =>
  `${bare(files)}frontend taken\n  bind 127.0.0.1:${port}\n  default_backend none\nbackend none\n`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Whether a process with this pid exists (signal 0 only checks). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the loopback HAProxy's helpers", () => {
  it("reads every forked worker's pid from the master's output", () => {
    expect(
      workerPids([
        "[NOTICE]   (3280) : New worker (3285) forked",
        "[NOTICE]   (3280) : Loading success.",
        "[NOTICE]   (3280) : New worker (3301) forked",
      ]),
    ).toEqual([3285, 3301]);
  });

  it("treats a process gone before the signal (ESRCH) as no error, and any other failure as one", () => {
    const failing = (code: string) => () => {
      throw Object.assign(new Error(code), { code });
    };
    expect(signalUnlessGone(1234, "SIGKILL", failing("ESRCH"))).toBe(false);
    expect(() => signalUnlessGone(1234, "SIGKILL", failing("EPERM"))).toThrow(/EPERM/);
    expect(signalUnlessGone(1234, "SIGKILL", () => {})).toBe(true);
  });

  it("knows a process as this HAProxy's only by the config on its command line", async () => {
    const files = haproxyScratch();
    const haproxy = await startHaproxy(bare(files), files);
    cleanups.push(() => haproxy.stop());
    expect(isHaproxyOf(haproxy.pid, files.configPath)).toBe(true);
    for (const worker of workerPids(haproxy.output)) expect(isHaproxyOf(worker, files.configPath)).toBe(true);
    expect(isHaproxyOf(haproxy.pid, `${files.configPath}.other`)).toBe(false);
    expect(isHaproxyOf(process.pid, files.configPath)).toBe(false);
  });
});

describe("a loopback HAProxy", () => {
  it("stops without touching a process that now has a pid one of its workers had", async () => {
    const files = haproxyScratch();
    const haproxy = await startHaproxy(bare(files), files, { timeoutMs: 2_000 });
    cleanups.push(() => haproxy.stop());
    // Another test's process, on a pid the master once logged for a worker (as a recycled pid would be).
    const bystander = spawn("sleep", ["60"], { stdio: "ignore" });
    const ended = new Promise<NodeJS.Signals | null>((resolve) =>
      bystander.once("exit", (_code, signal) => resolve(signal)),
    );
    cleanups.push(() => bystander.kill("SIGKILL"));
    haproxy.output.push(`[NOTICE]   (${haproxy.pid}) : New worker (${bystander.pid}) forked`);

    await haproxy.stop();
    expect(running(haproxy.pid)).toBe(false);
    // Ended by our SIGTERM now, so it was alive and unsignalled until here (a SIGKILL by stop() would show).
    bystander.kill("SIGTERM");
    expect(await ended).toBe("SIGTERM");
  });

  it("fails a reload HAProxy refuses at once, with HAProxy's reason, and keeps serving the config it ran", async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
    const port = (holder.address() as { port: number }).port;
    const files = haproxyScratch();
    const haproxy = await startHaproxy(bare(files), files, { timeoutMs: 60_000 });
    cleanups.push(() => haproxy.stop());

    // The port is held, so the new config passes haproxy -c but cannot load.
    const reloading = haproxy.reload(withFrontend(files, port));
    await expect(reloading).rejects.toThrow(
      new RegExp(
        `the reload failed: .*cannot bind socket \\(Address already in use\\) for \\[127\\.0\\.0\\.1:${port}\\]`,
      ),
    );
    expect(await haproxy.command("show info")).toMatch(/^Name: HAProxy/m);
  });
});
