// A test host booting a real systemd: a Debian 12 root filesystem
// (debootstrap, cached) run by systemd-nspawn with its own network namespace
// joined to this machine by a veth pair. The project's own host: its address
// is on that veth, and it reaches only the Debian archive, through NAT.
// With `docker: true` it also runs a Docker engine (Debian's docker.io,
// started by the host's systemd) that can run containers, bridge networks,
// published ports, healthchecks and `docker compose`.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { lookup } from "node:dns/promises";
import {
  appendFileSync,
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { hostKeyLine, hostKeyOf } from "../../infra/host/host-keys.js";
import { SshTransport } from "../../infra/host/runner/ssh.js";
import { tcpProbe } from "./tcp-probe.js";

const CACHE = "/var/cache/platform-test-host";
const PACKAGES = "systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,ca-certificates,curl,gnupg,lynis";
// A second cached root filesystem for hosts with a Docker engine: installing
// docker.io (and its containerd, runc, iptables) on every start would cost
// each test run a download and half a minute of dpkg.
const DOCKER_PACKAGES = `${PACKAGES},docker.io`;
const MIRROR = "deb.debian.org";
const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface SystemdHostOptions {
  /** The host gets 10.<subnet>.0.2, this machine 10.<subnet>.0.1. */
  subnet?: number;
  /** Boot with a Docker engine ready (and the Compose v2 plugin of this machine). */
  docker?: boolean;
  /**
   * Let a Docker engine installed later (by the bootstrap) run containers:
   * what `docker` sets up for its engine, without installing one.
   */
  containers?: boolean;
}

export interface HostTransportOptions {
  port?: number;
  localAddress?: string;
  /** @default 0 (one attempt) */
  dialTimeoutSeconds?: number;
}

export interface SystemdHost {
  address: string;
  /** This machine's address on the veth: where the host sees SSH come from. */
  gatewayAddress: string;
  /** This machine's end of the veth pair (another address added there reaches the host too). */
  veth: string;
  /** The host's root directory, as this machine sees it. */
  root: string;
  keyPath: string;
  publicKey: string;
  /** Milliseconds from the call: root filesystem ready, SSH answering, Docker answering (docker hosts). */
  timings: { rootfsMs: number; sshMs: number; dockerMs?: number };
  /**
   * The project's SSH transport to the host as `user`, on port 22 unless
   * told, from the gateway address unless told, pinned to the host keys the
   * host has now (read from its files, as an operator would from its
   * console). Transports with the same settings share one connection;
   * `endSession()` ends it, and the next command logs in anew. One dial
   * attempt unless told: a refused login fails at once.
   */
  transport(user: string, options?: HostTransportOptions): SshTransport;
  stop(): Promise<void>;
}

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A cached root filesystem, made once per machine (about 90 s; with docker.io about 110 s). */
export function ensureBaseRootfs(variant: "base" | "docker" = "base"): string {
  const packages = variant === "docker" ? DOCKER_PACKAGES : PACKAGES;
  const base = join(CACHE, variant);
  const marker = join(base, ".platform-packages");
  if (existsSync(marker) && readFileSync(marker, "utf8") === packages) return base;
  mkdirSync(CACHE, { recursive: true });
  const tmp = join(CACHE, `${variant}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  sh("debootstrap", ["--variant=minbase", `--include=${packages}`, "bookworm", tmp, `http://${MIRROR}/debian`]);
  writeFileSync(join(tmp, ".platform-packages"), packages);
  rmSync(base, { recursive: true, force: true });
  renameSync(tmp, base);
  return base;
}

export async function startSystemdHost(name: string, options: SystemdHostOptions = {}): Promise<SystemdHost> {
  if (process.getuid?.() !== 0) throw new Error("the systemd test host needs root (systemd-nspawn, veth, iptables)");
  const started = Date.now();
  const subnet = options.subnet ?? 213;
  const docker = options.docker ?? false;
  const containers = docker || (options.containers ?? false);
  if (containers) checkDockerCanRun();
  const base = ensureBaseRootfs(docker ? "docker" : "base");
  const root = `/var/tmp/platform-host-${name}`;
  rmSync(root, { recursive: true, force: true });
  sh("cp", ["-a", base, root]);
  const rootfsMs = Date.now() - started;

  const gatewayAddress = `10.${subnet}.0.1`;
  const address = `10.${subnet}.0.2`;
  const keyPath = join(root, "..", `platform-host-${name}.key`);
  const consoleLog = join(root, "..", `platform-host-${name}.console.log`);
  rmSync(keyPath, { force: true });
  rmSync(`${keyPath}.pub`, { force: true });
  sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "platform-test", "-f", keyPath]);
  const publicKey = readFileSync(`${keyPath}.pub`, "utf8").trim();
  mkdirSync(join(root, "root/.ssh"), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, "root/.ssh/authorized_keys"), `${publicKey}\n`, { mode: 0o600 });
  // Name resolution from here: the host sends no DNS of its own.
  const mirror = await lookup(MIRROR, { family: 4 });
  // debootstrap copied this machine's resolv.conf: through the NAT below the
  // host would send its lookups (sudo's of its own name, Caddy's of ACME
  // servers, the containers' of anything) to this machine's resolver, and
  // with no route a sudo waited 20 s on it. Point it at this machine's end of
  // the veth instead, where nothing answers on port 53: lookups fail at once
  // and no DNS leaves the link.
  rmSync(join(root, "etc/resolv.conf"), { force: true });
  writeFileSync(join(root, "etc/resolv.conf"), `nameserver ${gatewayAddress}\n`);
  // debootstrap writes no /etc/hosts; an installed Debian or Ubuntu (and a
  // VPS image) has the loopback names, which Caddy's admin endpoint needs,
  // and its own host name (sudo looks it up).
  writeFileSync(
    join(root, "etc/hosts"),
    `127.0.0.1\tlocalhost\n127.0.1.1\t${name}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n${mirror.address} ${MIRROR}\n`,
  );
  writeFileSync(join(root, "etc/hostname"), `${name}\n`);
  // As on any installed Debian: security updates come from debian-security.
  appendFileSync(join(root, "etc/apt/sources.list"), `deb http://${MIRROR}/debian-security bookworm-security main\n`);
  // Its network, set at boot by a unit of its own.
  writeFileSync(
    join(root, "etc/systemd/system/platform-test-net.service"),
    `[Unit]\nDescription=Test network\nBefore=network.target ssh.service\n[Service]\nType=oneshot\nRemainAfterExit=yes\n` +
      `ExecStart=/usr/sbin/ip link set host0 up\nExecStart=/usr/sbin/ip addr add ${address}/30 dev host0\n` +
      `ExecStart=/usr/sbin/ip route add default via ${gatewayAddress}\n[Install]\nWantedBy=multi-user.target\n`,
  );
  symlinkSync(
    "/etc/systemd/system/platform-test-net.service",
    join(root, "etc/systemd/system/multi-user.target.wants/platform-test-net.service"),
  );
  installComposePlugin(root);
  if (containers) prepareDocker(root);

  const machine = `pt-${name}`.slice(0, 11);
  const veth = `ve-${machine}`.slice(0, 15);
  // A veth left by a run that was killed would stop nspawn making its own.
  tryRun(() => sh("ip", ["link", "del", veth]));
  const nspawnArgs = ["-b", "-D", root, "--register=no", "--keep-unit", `--network-veth`, "-M", machine];
  if (containers) {
    // runc gives every container a session keyring of its own. nspawn's
    // default filter answers keyctl with EPERM, which runc treats as fatal
    // (it carries on only when the kernel lacks keyrings). Nothing else was
    // missing: nspawn's default capabilities include CAP_SYS_ADMIN (mounts,
    // overlay2) and, with a private network, CAP_NET_ADMIN (bridges, veths,
    // iptables in the host's own network namespace).
    nspawnArgs.push("--system-call-filter=keyctl");
  }
  // The console (systemd's boot messages) goes to a file: the first place to
  // look when the host does not come up.
  const consoleFd = openSync(consoleLog, "w");
  const nspawn: ChildProcess = spawn("systemd-nspawn", nspawnArgs, { stdio: ["ignore", consoleFd, consoleFd] });
  closeSync(consoleFd);
  const exited = new Promise<void>((resolve) => nspawn.once("exit", () => resolve()));
  const rules: string[][] = [
    ["-t", "nat", "POSTROUTING", "-s", `${address}/32`, "!", "-o", veth, "-j", "MASQUERADE"],
    ["FORWARD", "-i", veth, "-j", "ACCEPT"],
    ["FORWARD", "-o", veth, "-j", "ACCEPT"],
  ];
  const iptables = (op: "-I" | "-D", rule: string[]) => {
    const table = rule[0] === "-t" ? rule.slice(0, 2) : [];
    const rest = rule[0] === "-t" ? rule.slice(2) : rule;
    sh("iptables", [...table, op, ...rest]);
  };
  const stop = async () => {
    if (nspawn.exitCode === null && nspawn.signalCode === null) {
      nspawn.kill("SIGTERM");
      // A Docker host first gives its containers 10 s to stop.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (nspawn.exitCode === null && nspawn.signalCode === null) {
        // nspawn killed alone leaves the container's systemd running, with its
        // network and containers, holding the subnet the next host needs:
        // kill the container's init first (its PID namespace ends with it).
        for (const child of childrenOf(nspawn.pid)) tryRun(() => process.kill(child, "SIGKILL"));
        nspawn.kill("SIGKILL");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
    }
    for (const rule of rules) while (tryRun(() => iptables("-D", rule)));
    rmSync(root, { recursive: true, force: true });
    rmSync(keyPath, { force: true });
    rmSync(`${keyPath}.pub`, { force: true });
    rmSync(consoleLog, { force: true });
  };

  const transport = (user: string, options: HostTransportOptions = {}) =>
    new SshTransport({
      host: address,
      port: options.port ?? 22,
      user,
      privateKey: readFileSync(keyPath, "utf8"),
      hostKeys: currentHostKeys(root),
      hostKeyFix: "the test host's keys are read from its root directory: did a test change them?",
      dialTimeoutSeconds: options.dialTimeoutSeconds ?? 0,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
  let sshMs: number;
  let dockerMs: number | undefined;
  try {
    await until(() => existsSync(`/sys/class/net/${veth}`), 20_000, `interface ${veth}`, consoleLog);
    sh("ip", ["addr", "replace", `${gatewayAddress}/30`, "dev", veth]);
    sh("ip", ["link", "set", veth, "up"]);
    // The NAT below needs this machine to forward IPv4 between the veth and
    // its uplink. A fresh machine does not; a Docker engine turns forwarding
    // on for every interface when it starts, so a host booted before any
    // dockerd ever ran here timed out on the archive, its bootstrap's apt-get
    // failed, and no deploy user was made. Only these two interfaces.
    for (const device of [veth, uplinkTowards(mirror.address)]) {
      writeFileSync(`/proc/sys/net/ipv4/conf/${device}/forwarding`, "1");
    }
    for (const rule of rules) {
      // Rules left by a run that was killed would pile up: drop them first.
      while (tryRun(() => iptables("-D", rule)));
      iptables("-I", rule);
    }

    await until(
      async () => (await tcpProbe(address, 22, 1000)) === "connected",
      60_000,
      `SSH on ${address}`,
      consoleLog,
    );
    sshMs = Date.now() - started;
    if (docker) {
      // sshd may answer TCP a moment before it takes logins.
      const asRoot = transport("root", { dialTimeoutSeconds: 30 });
      try {
        await until(
          async () => (await asRoot.exec("docker info --format '{{.ServerVersion}}'")).code === 0,
          60_000,
          "the Docker engine in the test host",
          consoleLog,
        );
      } finally {
        await asRoot.endSession();
      }
      dockerMs = Date.now() - started;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    address,
    gatewayAddress,
    veth,
    root,
    keyPath,
    publicKey,
    timings: { rootfsMs, sshMs, dockerMs },
    transport,
    stop,
  };
}

/** The host keys sshd presents now, as the lines a transport pins. */
function currentHostKeys(root: string): string[] {
  const dir = join(root, "etc/ssh");
  return readdirSync(dir)
    .filter((file) => /^ssh_host_.*_key\.pub$/.test(file))
    .map((file) => hostKeyLine(hostKeyOf(readFileSync(join(dir, file), "utf8"))));
}

/**
 * Docker in nspawn on this kind of machine: cgroup v1 controllers (a hybrid
 * hierarchy; no systemd outside to delegate a v2 subtree). Checked before
 * anything is built, so another layout fails with a reason.
 */
function checkDockerCanRun(): void {
  if (statfsSync("/sys/fs/cgroup").type === CGROUP2_SUPER_MAGIC) {
    throw new Error(
      "this machine has only the unified cgroup hierarchy: a Docker engine in the nspawn test host needs a delegated " +
        "cgroup v2 subtree (nspawn run under systemd with Delegate=yes) and bpf in its system call filter, which the " +
        "harness does not set up yet",
    );
  }
}

/** Writes what the host's Docker engine needs into its root directory. */
function prepareDocker(root: string): void {
  // nspawn mounts the cgroup v1 controllers read-only, and runc must create
  // a cgroup per container in each of them (with the memory and CPU limits
  // the production compose file sets). The host's own unit makes them
  // writable before containerd and dockerd start; inside the container's
  // cgroup namespace each one shows only the container's own subtree.
  writeFileSync(
    join(root, "usr/local/sbin/platform-test-cgroup-rw"),
    `#!/bin/sh\nset -e\nfor d in /sys/fs/cgroup/*; do\n  if mountpoint -q "$d"; then mount -o remount,bind,rw "$d"; fi\ndone\n`,
  );
  chmodSync(join(root, "usr/local/sbin/platform-test-cgroup-rw"), 0o755);
  writeFileSync(
    join(root, "etc/systemd/system/platform-test-cgroup-rw.service"),
    `[Unit]\nDescription=Writable cgroup controllers for the container engine (test host)\nDefaultDependencies=no\n` +
      `Before=containerd.service docker.service\n[Service]\nType=oneshot\nRemainAfterExit=yes\n` +
      `ExecStart=/usr/local/sbin/platform-test-cgroup-rw\n[Install]\nRequiredBy=containerd.service docker.service\n`,
  );
  for (const unit of ["containerd.service", "docker.service"]) {
    mkdirSync(join(root, `etc/systemd/system/${unit}.requires`), { recursive: true });
    symlinkSync(
      "/etc/systemd/system/platform-test-cgroup-rw.service",
      join(root, `etc/systemd/system/${unit}.requires/platform-test-cgroup-rw.service`),
    );
  }
}

/**
 * Compose v2 is not in bookworm, which Ubuntu 24.04 packages as
 * docker-compose-v2 (and the bootstrap requires): every test host gets this
 * machine's plugin, where Docker's own docker-compose-plugin package puts it.
 */
function installComposePlugin(root: string): void {
  const plugins = join(root, "usr/libexec/docker/cli-plugins");
  mkdirSync(plugins, { recursive: true });
  copyFileSync(composePlugin(), join(plugins, "docker-compose"));
  chmodSync(join(plugins, "docker-compose"), 0o755);
}

/** This machine's Compose v2 plugin (../shared/NOTES.md, beside the project's root, says how it got there). */
function composePlugin(): string {
  const dirs = [
    ...(process.env.DOCKER_CONFIG ? [join(process.env.DOCKER_CONFIG, "cli-plugins")] : []),
    join(homedir(), ".docker/cli-plugins"),
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
  ];
  const found = dirs.map((d) => join(d, "docker-compose")).find((p) => existsSync(p));
  if (!found) throw new Error(`no Docker Compose v2 plugin on this machine (looked in ${dirs.join(", ")})`);
  return found;
}

/** The interface this machine sends packets for `address` out of. */
function uplinkTowards(address: string): string {
  const device = /\bdev (\S+)/.exec(sh("ip", ["-4", "route", "get", address]))?.[1];
  if (!device) throw new Error(`no route from this machine to ${address}`);
  return device;
}

function tryRun(action: () => unknown): boolean {
  try {
    action();
    return true;
  } catch {
    return false;
  }
}

async function until(
  ready: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  consoleLog?: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) {
      const tail = consoleLog && existsSync(consoleLog) ? readFileSync(consoleLog, "utf8").slice(-4000) : "";
      throw new Error(`timed out waiting for ${what}${tail ? `; the host's console ended with:\n${tail}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A process's direct children, as the kernel lists them (none once it is gone). */
function childrenOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
