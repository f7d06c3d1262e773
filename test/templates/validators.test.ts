// Every template, validated by its own tool, and a deliberately broken
// variant of each that the same tool must refuse.
import { renderNatsAuth } from "../../infra/host/nats-users.js";
import { execFile } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { caddyBinary, natsServerBinary } from "../../scripts/setup/tools.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const TEMPLATES = join(import.meta.dirname, "../../templates");
const read = (path: string) => readFileSync(join(TEMPLATES, path), "utf8");
const dir = scratchDir("templates");
afterAll(() => dir.remove());

let counter = 0;
/** A new empty folder in the scratch directory. */
const scratch = () => {
  const path = join(dir.path, `dir-${counter++}`);
  mkdirSync(path);
  return path;
};
function file(name: string, content: string): string {
  const path = join(dir.path, `${counter++}-${name}`);
  writeFileSync(path, content);
  return path;
}

interface Result {
  ok: boolean;
  output: string;
}
async function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(command, args, { env: { ...process.env, ...env } });
    return { ok: true, output: stdout + stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

/**
 * The JSON config in `caddy adapt`'s output, without the log lines before it
 * (a current Caddy warns that the Caddyfile's nested `metrics` is deprecated;
 * the OS's 2.6 knows no other form).
 */
function adapted(output: string): string {
  return output.split("\n").find((line) => line.startsWith('{"') && !line.startsWith('{"level"')) ?? output;
}

function expectBoth(good: Result, bad: Result, badMessage: RegExp) {
  expect(good.ok, good.output).toBe(true);
  expect(bad.ok, bad.output).toBe(false);
  expect(bad.output).toMatch(badMessage);
}

describe("Caddyfile (caddy validate, caddy adapt)", () => {
  const env = {
    ACME_EMAIL: "ops@example.com",
    API_HOST: "api.example.com",
    API_UPSTREAMS: "127.0.0.1:8081 127.0.0.1:8082",
    CADDY_ACCESS_LOG: join(dir.path, "access.log"),
    CADDY_GLOBAL_OPTIONS: "",
  };
  const caddyfile = read("host/caddy/Caddyfile");

  it("is checked by the Caddy tools/caddy pins, not the distribution's 2.6", async () => {
    const pinned = /github\.com\/caddyserver\/caddy\/v2 (v\S+)/.exec(
      readFileSync(join(TEMPLATES, "../tools/caddy/go.mod"), "utf8"),
    )?.[1];
    const { output } = await run(caddyBinary(), ["version"]);
    expect(pinned).toMatch(/^v2\.(1\d|[7-9])\./);
    expect(output.split(" ")[0]).toBe(pinned);
  });

  it("validates, and refuses a broken copy", async () => {
    const good = await run(
      caddyBinary(),
      ["validate", "--config", file("Caddyfile", caddyfile), "--adapter", "caddyfile"],
      env,
    );
    const bad = await run(
      caddyBinary(),
      [
        "validate",
        "--config",
        file("Caddyfile", caddyfile.replace("flush_interval -1", "flush_interval sometimes")),
        "--adapter",
        "caddyfile",
      ],
      env,
    );
    expectBoth(good, bad, /flush_interval|duration/i);
  });

  it("flushes every event and never compresses event streams", async () => {
    const { output } = await run(
      caddyBinary(),
      ["adapt", "--config", file("Caddyfile", caddyfile), "--adapter", "caddyfile"],
      env,
    );
    const json = JSON.parse(adapted(output)) as unknown;
    const text = JSON.stringify(json);
    expect(text).toContain('"flush_interval":-1');
    expect(text).toContain('"health_checks":{"active"');
    const encode = text.match(/"handler":"encode","match":\{"headers":\{"Content-Type":(\[[^\]]*\])/);
    expect(encode).not.toBeNull();
    expect(encode![1]).not.toContain("event-stream");
  });

  it("limits the time to receive a request to 30 s, and sets no write timeout that would cut a stream", async () => {
    const { output } = await run(
      caddyBinary(),
      ["adapt", "--config", file("Caddyfile", caddyfile), "--adapter", "caddyfile"],
      env,
    );
    const json = JSON.parse(adapted(output)) as {
      apps: { http: { servers: Record<string, Record<string, unknown>> } };
    };
    const seconds = (ns: unknown) => Number(ns) / 1e9;
    for (const server of Object.values(json.apps.http.servers)) {
      expect(seconds(server.read_header_timeout)).toBe(30);
      expect(seconds(server.read_timeout)).toBe(30);
      expect(seconds(server.idle_timeout)).toBe(300);
      expect(server.write_timeout).toBeUndefined();
    }
  });
});

describe("sshd drop-in (sshd -t)", () => {
  it("validates inside a full sshd configuration, and refuses a broken copy", async () => {
    const hostKey = join(dir.path, "host_ed25519");
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
    mkdirSync("/run/sshd", { recursive: true });
    const check = async (dropIn: string) => {
      const dropInDir = join(dir.path, `sshd.d-${counter++}`);
      mkdirSync(dropInDir);
      writeFileSync(join(dropInDir, "00-platform-hardening.conf"), dropIn);
      const main = file("sshd_config", `Include ${dropInDir}/*.conf\nHostKey ${hostKey}\nUsePAM no\n`);
      return run("/usr/sbin/sshd", ["-t", "-f", main]);
    };
    const rendered = read("host/ssh/00-platform-hardening.conf").replace("{{DEPLOY_USER}}", "deploy");
    expectBoth(
      await check(rendered),
      await check(rendered.replace("PermitRootLogin no", "PermitRootLogin sometimes")),
      /PermitRootLogin|unsupported option|Bad/i,
    );
  });
});

describe("nats-server.conf with its users (nats-server -t)", () => {
  // The config and the users it includes, side by side as the stack step installs them.
  const check = (conf: string, auth: string) => {
    const folder = join(dir.path, `nats-${counter++}`);
    mkdirSync(folder);
    writeFileSync(join(folder, "nats-server.conf"), conf);
    writeFileSync(join(folder, "nats-auth.conf"), auth);
    // No environment: nothing in the config comes from one.
    return run(natsServerBinary(), ["-c", join(folder, "nats-server.conf"), "-t"], {});
  };
  const conf = read("stack/nats-server.conf");
  const users = renderNatsAuth(read("stack/nats-auth.conf"), ["a-secret-for-the-test-0123456789"]);

  it("validates, and refuses a broken copy", async () => {
    expectBoth(
      await check(conf, users),
      await check(conf.replace("max_file_store: 20GB", "max_file_store: lots"), users),
      /max_file_store|parse|invalid/i,
    );
  });

  it("refuses users whose permissions are not defined", async () => {
    const bad = await check(conf, users.replace("permissions: $OPS_PERMISSIONS", "permissions: $OPERATOR"));
    expect(bad.ok).toBe(false);
    expect(bad.output).toMatch(/OPERATOR/);
  });
});

describe("docker-compose.prod.yml (docker compose config)", () => {
  const env = {
    API_RELEASE: "releases/abc",
    NATS_API_USER: "api-0123abcd",
    NATS_API_PASSWORD: "a-password-for-the-test-0123456789",
    NATS_BACKUP_USER: "backup-0123abcd",
    NATS_BACKUP_PASSWORD: "another-password-for-the-test-0123",
    JWT_SECRET: "x".repeat(40),
    HOME: homedir(),
  };
  it("validates, and refuses a broken copy and a missing secret", async () => {
    const projectDir = join(dir.path, "stack");
    mkdirSync(projectDir, { recursive: true });
    cpSync(join(TEMPLATES, "stack"), projectDir, { recursive: true });
    const compose = join(projectDir, "docker-compose.prod.yml");
    const good = await run("docker", ["compose", "-f", compose, "config", "-q"], env);
    const brokenPath = join(projectDir, "broken.yml");
    writeFileSync(brokenPath, read("stack/docker-compose.prod.yml").replace("read_only: true", "read_only: maybe"));
    const bad = await run("docker", ["compose", "-f", brokenPath, "config", "-q"], env);
    expectBoth(good, bad, /read_only|boolean/i);
    const missing = await run("docker", ["compose", "-f", compose, "config", "-q"], { ...env, JWT_SECRET: "" });
    expect(missing.ok).toBe(false);
    expect(missing.output).toMatch(/JWT_SECRET is not set in \.env/);
  });

  it("publishes nothing beyond 127.0.0.1, and hardens every service", async () => {
    const { output } = await run(
      "docker",
      ["compose", "-f", join(TEMPLATES, "stack/docker-compose.prod.yml"), "config", "--format", "json"],
      env,
    );
    const config = JSON.parse(output) as { services: Record<string, Record<string, any>> };
    expect(Object.keys(config.services).sort()).toEqual(["api-1", "api-2", "nats"]);
    for (const [name, service] of Object.entries(config.services)) {
      for (const port of service.ports ?? []) expect(port.host_ip, `${name} ${JSON.stringify(port)}`).toBe("127.0.0.1");
      expect(service.read_only, name).toBe(true);
      expect(service.cap_drop, name).toEqual(["ALL"]);
      expect(service.security_opt, name).toContain("no-new-privileges:true");
      expect(service.healthcheck?.test, name).toBeDefined();
      expect(service.deploy?.resources?.limits?.memory, name).toBeDefined();
      expect(service.logging?.options?.["max-size"], name).toBe("10m");
    }
    // Only the clients' port that ops backup and restore reach through an
    // SSH tunnel: monitoring (8222) stays inside the container.
    expect(config.services.nats!.ports.map((p: { target: number }) => p.target)).toEqual([4222]);
    // No secret in NATS's environment; each API instance has its own NATS user, not the backup's.
    expect(config.services.nats!.environment ?? {}).toEqual({});
    expect(config.services["api-1"]!.environment.NATS_USER).toBe("api-0123abcd");
    expect(JSON.stringify(config.services["api-1"]!.environment)).not.toContain(env.NATS_BACKUP_PASSWORD);
  });

  it("runs the scheduled backup only when asked (profile backup), as hardened, with no port", async () => {
    const { output } = await run(
      "docker",
      [
        "compose",
        "-f",
        join(TEMPLATES, "stack/docker-compose.prod.yml"),
        "--profile",
        "backup",
        "config",
        "--format",
        "json",
      ],
      env,
    );
    const backup = (JSON.parse(output) as { services: Record<string, Record<string, any>> }).services.backup!;
    expect(backup.read_only).toBe(true);
    expect(backup.cap_drop).toEqual(["ALL"]);
    expect(backup.user).toBe("10001:10001");
    expect(backup.ports).toBeUndefined();
    expect(backup.environment.NATS_URL).toBe("nats://nats:4222");
    expect(backup.environment.NATS_USER).toBe("backup-0123abcd");
    expect(JSON.stringify(backup.environment)).not.toContain(env.NATS_API_PASSWORD);
  });
});

describe("bootstrap and scripts (shellcheck)", () => {
  it("passes shellcheck, and a broken copy does not", async () => {
    const bootstrap = read("host/bootstrap.sh");
    const good = await run("shellcheck", ["-x", file("bootstrap.sh", bootstrap)]);
    const bad = await run("shellcheck", [
      file(
        "bootstrap.sh",
        bootstrap.replace('keep_out_of_docker_group "$DEPLOY_USER"', "keep_out_of_docker_group $DEPLOY_USER"),
      ),
    ]);
    expectBoth(good, bad, /SC2086/);
  });

  it("passes shellcheck for the login-shell profile, and a broken copy does not", async () => {
    const profile = read("host/security/profile-session.sh");
    const good = await run("shellcheck", [file("profile-session.sh", profile)]);
    const bad = await run("shellcheck", [file("profile-session.sh", profile.replace("TMOUT=900", "TMOUT = 900"))]);
    expectBoth(good, bad, /SC2283/);
  });

  it("sets a read-only idle timeout and no core dumps in dash and bash, even when read twice", async () => {
    const profile = file("profile-session.sh", read("host/security/profile-session.sh"));
    for (const shell of ["dash", "bash"]) {
      const result = await run(shell, ["-c", `. "$0" && . "$0" && echo "$TMOUT $(ulimit -c)" && readonly -p`, profile]);
      expect(result.ok, result.output).toBe(true);
      expect(result.output).toMatch(/^900 0\n/);
      expect(result.output).toMatch(/^(readonly|declare -r\w*) TMOUT=['"]?900['"]?$/m);
    }
  });

  it("passes shellcheck for every script of the project", async () => {
    const root = join(TEMPLATES, "..");
    // Every shell script the repository tracks, and the two without a .sh name.
    const listed = await run("git", ["-C", root, "ls-files", "*.sh", ".ci/run", "tools/engine/bin/*"]);
    const scripts = listed.output.split("\n").filter(Boolean);
    expect(scripts).toEqual(expect.arrayContaining(["scripts/pulumi.sh", "scripts/setup/build-engine.sh", ".ci/run"]));
    const result = await run("shellcheck", ["-x", ...scripts.map((p) => join(root, p))]);
    expect(result.ok, result.output).toBe(true);
    // Over every script of the project: CPU-bound, minutes on a busy machine.
  }, 300_000);
});

describe("the metadata guard's systemd unit (systemd-analyze verify)", () => {
  it("loads without a complaint, and a broken copy is complained about", async () => {
    // Its command must exist to be verified; a copy of the script stands in for the installed one.
    const guard = file("platform-metadata-guard", read("host/docker/metadata-guard.sh"));
    chmodSync(guard, 0o755);
    const unit = read("host/docker/platform-metadata-guard.service").replaceAll(
      "/usr/local/sbin/platform-metadata-guard",
      guard,
    );
    // As the bootstrap decides: systemd-analyze exits 0 on lines it ignores, its complaints about the unit tell.
    const verify = async (content: string) => {
      const dir = join(scratch(), "unit");
      mkdirSync(dir);
      const path = join(dir, "platform-metadata-guard.service");
      writeFileSync(path, content);
      const result = await run("systemd-analyze", ["verify", "--man=no", path]);
      return { ok: !result.output.includes("platform-metadata-guard.service"), output: result.output };
    };
    expect(unit).toContain(`ExecStart=${guard}`);
    expectBoth(
      await verify(unit),
      await verify(unit.replace("Type=oneshot", "Type=oneshott")),
      /Failed to parse service type/,
    );
  });
});

describe("logrotate (logrotate -d)", () => {
  it("validates, and refuses a broken copy", async () => {
    const conf = read("host/logrotate/platform");
    const state = join(dir.path, "logrotate.state");
    const check = async (content: string): Promise<Result> => {
      const result = await run("logrotate", ["-d", "-s", state, file("logrotate", content)]);
      // logrotate -d exits 0 on unknown directives; its "error:" lines tell.
      return { ok: result.ok && !/^error:/m.test(result.output), output: result.output };
    };
    expectBoth(await check(conf), await check(conf.replace("rotate 14", "rotate many")), /^error:/m);
  });
});

describe("fail2ban jail (fail2ban-client -t)", () => {
  it("validates, and refuses a broken copy", async () => {
    const jail = read("host/fail2ban/jail.local")
      .replace("{{ADMIN_CIDRS}}", "203.0.113.7/32 2001:db8::/48")
      .replace("{{SSH_PORT}}", "2222");
    const check = (content: string) => {
      const confDir = join(dir.path, `fail2ban-${counter++}`);
      cpSync("/etc/fail2ban", confDir, { recursive: true });
      writeFileSync(join(confDir, "jail.local"), content);
      return run("fail2ban-client", ["-c", confDir, "-t"]);
    };
    expectBoth(
      await check(jail),
      await check(jail.replace("mode = aggressive", "mode = aggressive\nfilter = no-such-filter")),
      /no-such-filter/,
    );
  });
});

describe("sysctl settings (sysctl --dry-run)", () => {
  // This machine's kernel lacks a few kernel.* knobs (Yama, sysrq): the
  // bootstrap tolerates those, never an unknown or malformed net.* setting.
  const unknownOnlyKernel = (r: Result) =>
    r.output
      .split("\n")
      .filter(Boolean)
      .every((line) => /cannot stat \/proc\/sys\/(kernel|fs|dev|net\/core)\//.test(line) || !/sysctl:/.test(line));

  it("names only settings the kernel knows, and a broken copy is refused", async () => {
    const conf = read("host/sysctl/99-platform.conf");
    const good = await run("sysctl", ["--dry-run", "-p", file("sysctl.conf", conf)]);
    expect(unknownOnlyKernel(good), good.output).toBe(true);
    const bad = await run("sysctl", [
      "--dry-run",
      "-p",
      file("sysctl.conf", conf.replace("net.ipv4.tcp_syncookies", "net.ipv4.tcp_syncookiez")),
    ]);
    expect(bad.ok).toBe(false);
    expect(unknownOnlyKernel(bad)).toBe(false);
    expect(bad.output).toMatch(/tcp_syncookiez/);
  });
});

describe("module blacklist (modprobe --dry-run)", () => {
  const conf = read("host/security/modprobe-blacklist.conf");
  // What modprobe would do for each module the file names, and what it
  // complained about while reading the file (it ignores a bad line).
  const dryRun = async (content: string) => {
    const path = file("modprobe.conf", content);
    const modules = [...new Set([...content.matchAll(/^blacklist (\S+)$/gm)].map((m) => m[1]!))];
    const results = await Promise.all(
      modules.map((m) => run("/usr/sbin/modprobe", ["-C", path, "--dry-run", "-v", m])),
    );
    return { modules, output: results.map((r) => r.output).join("") };
  };

  it("turns every listed module's load into a no-op, and a broken copy is reported", async () => {
    const good = await dryRun(conf);
    expect(good.modules).toEqual(["dccp", "sctp", "rds", "tipc", "usb-storage", "firewire-core"]);
    expect(good.output).toBe("install /bin/true \n".repeat(good.modules.length));
    const bad = await dryRun(conf.replace("install sctp /bin/true", "install sctp"));
    expect(bad.output).toMatch(/ignoring bad line starting with 'install'/);
  });
});

describe("the deploy user's sudoers file (visudo -c)", () => {
  it("validates, and refuses a broken copy", async () => {
    const sudoers = read("host/sudo/90-platform-deploy").replaceAll("{{DEPLOY_USER}}", "deploy");
    expect(sudoers).not.toContain("{{");
    expectBoth(
      await run("visudo", ["-c", "-f", file("sudoers", sudoers)]),
      await run("visudo", ["-c", "-f", file("sudoers", sudoers.replace("NOPASSWD: ALL", "NOPASSWD ALL"))]),
      /syntax error/,
    );
  });
});

describe("unattended-upgrades origins (apt-config)", () => {
  const dump = async (content: string) => run("apt-config", ["-c", file("apt.conf", content), "dump"]);

  it("parse, and a broken copy does not", async () => {
    for (const name of ["52platform-unattended-upgrades", "53platform-vendor-upgrades", "20auto-upgrades"]) {
      const conf = read(`host/apt/${name}`);
      // A value split over two lines: apt's parser is lenient about a missing ";", not about this.
      expectBoth(await dump(conf), await dump(conf.replace(/"([^"]+)"/, '"$1\n"')), /Syntax error/);
    }
  });

  it("allow Docker's and Caddy's repositories by their Release files' Origin, Label, Suite and component", async () => {
    const { output } = await dump(read("host/apt/53platform-vendor-upgrades"));
    const patterns = [...output.matchAll(/^Unattended-Upgrade::Origins-Pattern:: "(.*)";$/gm)].map((m) => m[1]);
    expect(patterns).toEqual([
      "origin=Docker,label=Docker CE,archive=${distro_codename},component=stable",
      "origin=cloudsmith/caddy/stable,archive=any-version,component=main",
    ]);
  });
});
