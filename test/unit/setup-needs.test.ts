// What npm run dev, local, bench and test each install and build on their
// first run (scripts/setup/needs.sh), word for word, and the set-up script
// itself (scripts/setup/prepare-for.sh) as someone who is not root meets it.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const ROOT = join(import.meta.dirname, "../..");
const scratch = scratchDir("setup-needs");
afterAll(() => scratch.remove());

/** needs.sh's functions, with `have` answering from `present` instead of this machine. */
function decide(script: string, present: string[] = []): { code: number | null; stdout: string } {
  const run = spawnSync(
    "bash",
    [
      "-c",
      `source scripts/setup/needs.sh
       have() { case " $PRESENT " in *" $1 "*) return 0 ;; esac; return 1; }
       ${script}`,
    ],
    { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH, HOME: scratch.path, PRESENT: present.join(" ") } },
  );
  return { code: run.status, stdout: run.stdout };
}
const lines = (script: string, present?: string[]) => decide(script, present).stdout.split("\n").filter(Boolean);

describe("what each command needs", () => {
  it("npm run dev: only NATS (the API runs from its source)", () => {
    expect(lines("needs_of dev")).toEqual(["nats-server"]);
    expect(lines("builds_of dev")).toEqual([]);
  });

  it("npm run local: Docker and Compose, NATS and busybox for its images, Caddy built from Go modules", () => {
    expect(lines("needs_of local")).toEqual(["nats-server", "dockerd", "docker-compose", "busybox"]);
    expect(lines("builds_of local")).toEqual(["node", "caddy", "bundles"]);
  });

  it("npm run bench: NATS, an sshd, the local stack's for the deploy measure, and the built Caddy", () => {
    expect(lines("needs_of bench")).toEqual(["nats-server", "sshd", "dockerd", "docker-compose", "busybox"]);
    expect(lines("builds_of bench")).toEqual(["node", "caddy", "bundles"]);
  });

  it("npm test: every server and validator, the engine, Caddy and the S3 fake too", () => {
    expect(lines("needs_of test")).toEqual([
      ...["nats-server", "dockerd", "docker-compose", "busybox", "sshd", "fail2ban-client", "logrotate"],
      ...["shellcheck", "debootstrap", "systemd-nspawn", "iptables", "modprobe", "bats", "visudo", "python3"],
      ...["chromium", "promtool", "amtool", "prometheus-blackbox-exporter", "openssl", "haproxy"],
    ]);
    expect(lines("builds_of test")).toEqual(["node", "engine", "caddy", "s3-fake", "bundles"]);
  });

  it("knows no other command", () => {
    expect(decide("needs_of deploy").code).toBe(1);
    expect(decide("builds_of deploy").code).toBe(1);
  });
});

describe("which node runs the suite, the benchmarks and the local API image", () => {
  it("pins Node 24's Linux build by version and integrity, cached outside the clone", () => {
    expect(lines('echo "$node_version"; echo "$node_integrity"; echo "$node_dir"')).toEqual([
      "24.22.3",
      "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==",
      join(scratch.path, ".cache/conversational-platform/node/24.22.3"),
    ]);
  });

  it.each([
    ["v24.22.3", 0],
    ["v24.0.0", 0],
    ["v20.20.2", 1],
    ["v22.23.5", 1],
    ["v2.4.0", 1],
    ["v240.1.0", 1],
    ["24.22.3", 1],
    ["", 1],
  ])("a node that says %j serves: %d is yes", (version, code) => {
    expect(decide(`node_serves "${version}"`).code).toBe(code);
  });
});

describe("what is missing", () => {
  it("asks for the package of each program that is not here, in order", () => {
    expect(lines("missing_for local", ["dockerd"])).toEqual([
      "nats-server-2.10",
      "docker-compose-v2",
      "busybox-static",
    ]);
    expect(lines("missing_for bench", ["nats-server", "docker-compose", "busybox"])).toEqual([
      "openssh-server",
      "docker.io",
    ]);
    expect(lines("missing_for test", ["nats-server", "dockerd", "docker-compose", "busybox", "sshd"])).toEqual(
      [
        "fail2ban",
        "logrotate",
        "shellcheck",
        "debootstrap",
        "systemd-container",
        "iptables",
        "kmod",
        "bats",
        "sudo",
      ].concat([
        "python3",
        "chromium",
        "prometheus",
        "prometheus-alertmanager",
        "prometheus-blackbox-exporter",
        "openssl",
        "haproxy",
      ]),
    );
  });

  it("asks for nothing when everything is here, and never for what another command needs", () => {
    expect(lines("missing_for dev", ["nats-server"])).toEqual([]);
    expect(lines("missing_for local", ["nats-server", "dockerd", "docker-compose", "busybox"])).toEqual([]);
  });

  it("sends nats-server and Compose to trixie's packages, everything else to apt-get", () => {
    expect(lines("from_trixie nats-server-2.10; from_trixie docker-compose-v2")).toEqual([
      "nats-server",
      "docker-compose",
    ]);
    expect(decide("from_trixie busybox-static").code).toBe(1);
  });

  it("tells someone who is not root which Debian packages are missing and the command that installs them", () => {
    expect(decide("report_missing bench docker.io openssh-server").stdout).toBe(
      "npm run bench needs Debian packages that are not installed here: docker.io openssh-server.\n" +
        "Install them as root: sudo apt-get install -y docker.io openssh-server\n",
    );
  });
});

describe("scripts/setup/prepare-for.sh", () => {
  // A machine of stubs: `id` says "not root" (the script must only report,
  // never install), dockerd and the two unpacked tools are "there", and
  // nothing else the commands need is on PATH.
  const stubs = join(scratch.path, "bin");
  const home = join(scratch.path, "home");
  const tools = join(scratch.path, "tools");
  const stub = (path: string, body: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
  };
  stub(join(stubs, "id"), "echo 1000");
  stub(join(stubs, "dockerd"), "exit 0");
  stub(join(tools, "nats-server"), "exit 0");
  stub(join(home, ".docker/cli-plugins/docker-compose"), "exit 0");
  symlinkSync(execFileSync("sh", ["-c", "command -v dirname"], { encoding: "utf8" }).trim(), join(stubs, "dirname"));
  const prepare = (command: string) => {
    const run = spawnSync("/bin/bash", [join(ROOT, "scripts/setup/prepare-for.sh"), command], {
      encoding: "utf8",
      env: { PATH: stubs, HOME: home, PLATFORM_TOOLS_DIR: tools },
    });
    return { code: run.status, stderr: run.stderr, stdout: run.stdout };
  };

  it("for npm run dev with nats-server there: does nothing and succeeds", () => {
    expect(prepare("dev")).toEqual({ code: 0, stderr: "", stdout: "" });
  });

  it("for npm run local without busybox, not as root: names it and stops", () => {
    expect(prepare("local")).toEqual({
      code: 1,
      stderr:
        "npm run local needs Debian packages that are not installed here: busybox-static.\n" +
        "Install them as root: sudo apt-get install -y busybox-static\n",
      stdout: "",
    });
  });

  it("refuses a command it does not know", () => {
    expect(prepare("deploy")).toEqual({
      code: 2,
      stderr: "usage: bash scripts/setup/prepare-for.sh test|local|dev|bench\n",
      stdout: "",
    });
  });
});
