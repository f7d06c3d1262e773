// A Docker engine to run the stack on: the one already running, or, as root
// on a machine with dockerd but no init system to start it, one started here.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";

export const LOCAL_DOCKERD_DATA = "/var/lib/platform-local-docker";

function engineAnswers(): boolean {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export async function ensureDockerEngine(log: (line: string) => void = console.log): Promise<void> {
  if (engineAnswers()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      "No Docker engine answers. Start one (sudo systemctl start docker), or run this as root to start dockerd here.",
    );
  }
  try {
    execFileSync("sh", ["-c", "command -v dockerd"], { stdio: "ignore" });
  } catch {
    throw new Error("No Docker engine answers and dockerd is not installed: apt-get install docker.io");
  }
  log(`starting dockerd (data in ${LOCAL_DOCKERD_DATA}, log in /var/log/platform-local-dockerd.log)`);
  mkdirSync(LOCAL_DOCKERD_DATA, { recursive: true });
  const out = openSync("/var/log/platform-local-dockerd.log", "a");
  spawn(
    "dockerd",
    [
      "--data-root",
      LOCAL_DOCKERD_DATA,
      "--host",
      "unix:///var/run/docker.sock",
      "--pidfile",
      "/var/run/platform-local-dockerd.pid",
    ],
    {
      detached: true,
      stdio: ["ignore", out, out],
    },
  ).unref();
  const deadline = Date.now() + 30_000;
  while (!engineAnswers()) {
    if (Date.now() > deadline)
      throw new Error("dockerd did not answer within 30 s; see /var/log/platform-local-dockerd.log");
    await new Promise((r) => setTimeout(r, 500));
  }
}
