// A test host booting a real systemd: a Debian 12 root filesystem
// (debootstrap, cached) run by systemd-nspawn with its own network namespace
// joined to this machine by a veth pair. The project's own host: its address
// is on that veth, and it reaches only the Debian archive, through NAT.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { lookup } from "node:dns/promises";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { NodeSSH } from "node-ssh";

const CACHE = "/var/cache/platform-test-host";
const PACKAGES = "systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,ca-certificates,curl,gnupg,lynis";
const MIRROR = "deb.debian.org";

export interface SystemdHost {
  address: string;
  /** This machine's address on the veth: where the host sees SSH come from. */
  gatewayAddress: string;
  keyPath: string;
  publicKey: string;
  connect(user: string): Promise<NodeSSH>;
  stop(): Promise<void>;
}

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The base root filesystem, made once per machine (about 90 s). */
export function ensureBaseRootfs(): string {
  const base = join(CACHE, "base");
  const marker = join(base, ".platform-packages");
  if (existsSync(marker) && readFileSync(marker, "utf8") === PACKAGES) return base;
  mkdirSync(CACHE, { recursive: true });
  const tmp = join(CACHE, "base.tmp");
  rmSync(tmp, { recursive: true, force: true });
  sh("debootstrap", ["--variant=minbase", `--include=${PACKAGES}`, "bookworm", tmp, `http://${MIRROR}/debian`]);
  writeFileSync(join(tmp, ".platform-packages"), PACKAGES);
  rmSync(base, { recursive: true, force: true });
  renameSync(tmp, base);
  return base;
}

export async function startSystemdHost(name: string, subnet = 213): Promise<SystemdHost> {
  if (process.getuid?.() !== 0) throw new Error("the systemd test host needs root (systemd-nspawn, veth, iptables)");
  const base = ensureBaseRootfs();
  const root = `/var/tmp/platform-host-${name}`;
  rmSync(root, { recursive: true, force: true });
  sh("cp", ["-a", base, root]);

  const gatewayAddress = `10.${subnet}.0.1`;
  const address = `10.${subnet}.0.2`;
  const keyPath = join(root, "..", `platform-host-${name}.key`);
  rmSync(keyPath, { force: true });
  rmSync(`${keyPath}.pub`, { force: true });
  sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "platform-test", "-f", keyPath]);
  const publicKey = readFileSync(`${keyPath}.pub`, "utf8").trim();
  mkdirSync(join(root, "root/.ssh"), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, "root/.ssh/authorized_keys"), `${publicKey}\n`, { mode: 0o600 });
  // Name resolution from here: the host sends no DNS of its own.
  const mirror = await lookup(MIRROR, { family: 4 });
  // debootstrap writes no /etc/hosts; an installed Debian or Ubuntu (and a
  // VPS image) has the loopback names, which Caddy's admin endpoint needs.
  writeFileSync(
    join(root, "etc/hosts"),
    `127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n${mirror.address} ${MIRROR}\n`,
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

  const machine = `pt-${name}`.slice(0, 11);
  const veth = `ve-${machine}`.slice(0, 15);
  // A veth left by a run that was killed would stop nspawn making its own.
  tryRun(() => sh("ip", ["link", "del", veth]));
  const nspawn: ChildProcess = spawn(
    "systemd-nspawn",
    ["-b", "-D", root, "--register=no", "--keep-unit", `--network-veth`, "-M", machine],
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  const exited = new Promise<void>((resolve) => nspawn.once("exit", () => resolve()));

  await until(() => existsSync(`/sys/class/net/${veth}`), 20_000, `interface ${veth}`);
  sh("ip", ["addr", "replace", `${gatewayAddress}/30`, "dev", veth]);
  sh("ip", ["link", "set", veth, "up"]);
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
  for (const rule of rules) {
    // Rules left by a run that was killed would pile up: drop them first.
    while (tryRun(() => iptables("-D", rule)));
    iptables("-I", rule);
  }

  await until(() => portOpen(address, 22), 60_000, `SSH on ${address}`);
  return {
    address,
    gatewayAddress,
    keyPath,
    publicKey,
    async connect(user) {
      const ssh = new NodeSSH();
      await ssh.connect({ host: address, username: user, privateKeyPath: keyPath, readyTimeout: 20_000 });
      return ssh;
    },
    async stop() {
      nspawn.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (nspawn.exitCode === null) nspawn.kill("SIGKILL");
      for (const rule of rules) while (tryRun(() => iptables("-D", rule)));
      rmSync(root, { recursive: true, force: true });
      rmSync(keyPath, { force: true });
      rmSync(`${keyPath}.pub`, { force: true });
    },
  };
}

function tryRun(action: () => unknown): boolean {
  try {
    action();
    return true;
  } catch {
    return false;
  }
}

async function until(ready: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, host);
  });
}
