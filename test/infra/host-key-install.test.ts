// The host:HostKeyInstall provider: the first-boot host key (from the user
// data, readable there for good) replaced by a key kept only in the state,
// confirmed on a new connection before it becomes the pin, with every way a
// deploy can stop half-way: the server is never left with a key the next run
// refuses, and once a new key was confirmed the first-boot key opens nothing.
// Against a real sshd on loopback; the step's script here swaps that sshd's
// key file and sends it SIGHUP (what templates/host/steps/host-key.sh does
// to a real server, tested in test/host/vultr-program.test.ts).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostKeyOf, hostKeyLine } from "../../infra/host/host-keys.js";
import { sha256 } from "../../infra/host/steps.js";
import { scanHostKey } from "../../infra/host/runner/host-key-scan.js";
import { hostKeyProvider } from "../../infra/providers/host-key.js";
import {
  hostKeyInstallProvider,
  keysAccepted,
  type HostKeyInstallInputs,
  type HostKeyInstallOutputs,
} from "../../infra/providers/host-key-install.js";
import { providers } from "../../infra/providers/registry.js";
import { startTestSshd, type TestSshd } from "../harness/sshd.js";

interface Pair {
  publicKey: string;
  privateKey: string;
}

let sshd: TestSshd;
/** The key the server booted with: cloud-init's, from the user data. */
let firstBoot: Pair;

beforeAll(async () => {
  sshd = await startTestSshd();
  firstBoot = {
    publicKey: hostKeyLine(hostKeyOf(sshd.hostKey)),
    privateKey: readFileSync(join(sshd.dir, "host_key"), "utf8"),
  };
});
afterAll(async () => {
  await sshd?.stop();
});

/** A key made by the program for a server, as host:HostKey makes it. */
async function newKey(server = "instance-1"): Promise<Pair> {
  const { outs } = await hostKeyProvider.create({ keyType: "ed25519", server });
  return { publicKey: outs.publicKey, privateKey: outs.privateKey };
}

/** The public line of the key the server presents now. */
async function presented(): Promise<string> {
  return hostKeyLine(await scanHostKey("127.0.0.1", sshd.port, 30));
}

/** Puts `pair` in place as the server's key and makes sshd read it (SIGHUP), as a reinstall would. */
async function serverPresents(pair: Pair): Promise<void> {
  const file = join(sshd.dir, "host_key");
  writeFileSync(`${file}.new`, pair.privateKey, { mode: 0o600 });
  renameSync(`${file}.new`, file);
  process.kill(Number(readFileSync(join(sshd.dir, "sshd.pid"), "utf8")), "SIGHUP");
  const deadline = Date.now() + 20_000;
  while ((await presented().catch(() => "")) !== pair.publicKey) {
    if (Date.now() > deadline) throw new Error("sshd did not take the key");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The step, as the provider runs it: installs `pair` as the sshd's key and
 * reloads it, then fails when told to, as a connection lost after the switch
 * would; or, broken, reports success and leaves the key as it was.
 */
function swapStep(pair: Pair, { broken = false, failAfter = false } = {}): HostKeyInstallInputs["step"] {
  const file = join(sshd.dir, "host_key");
  const script = [
    "set -e",
    `printf '%s' '${Buffer.from(pair.privateKey).toString("base64")}' | base64 -d >${file}.step`,
    `chmod 600 ${file}.step`,
    ...(broken
      ? [`rm -f ${file}.step`]
      : [`mv -f ${file}.step ${file}`, `kill -HUP "$(cat ${join(sshd.dir, "sshd.pid")})"`]),
    ...(failAfter ? ["echo 'the connection dropped here' >&2", "exit 1"] : []),
    `echo "host key: swapped"`,
  ].join("\n");
  return { name: "host-key", command: "bash -s", script, hash: sha256(script) };
}

function inputs(key: Pair, options: { triggers?: string[]; broken?: boolean; failAfter?: boolean } = {}) {
  return {
    target: {
      host: "127.0.0.1",
      port: sshd.port,
      user: sshd.user,
      privateKey: sshd.privateKey,
      hostKeyFix: "pin it: pulumi config set sshHostKey ...",
      dialTimeoutSeconds: 30,
    },
    firstBootKey: firstBoot.publicKey,
    key: key.publicKey,
    step: swapStep(key, options),
    triggers: options.triggers ?? ["instance-1"],
  } satisfies HostKeyInstallInputs;
}

/** Every console line the provider prints while `action` runs. */
async function printedBy<T>(action: () => Promise<T>): Promise<{ result: T; printed: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return { result: await action(), printed: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

describe("keysAccepted", () => {
  const k = { key: "ssh-ed25519 NEW", firstBootKey: "ssh-ed25519 FIRST", triggers: ["i-1"] };

  it("accepts the first-boot key, and the new one, until a key was confirmed on this server", () => {
    expect(keysAccepted(k)).toEqual(["ssh-ed25519 NEW", "ssh-ed25519 FIRST"]);
  });

  it("then never the first-boot key again: the confirmed key and the next one", () => {
    const olds = { installedKey: "ssh-ed25519 CONFIRMED", triggers: ["i-1"] };
    expect(keysAccepted(k, olds)).toEqual(["ssh-ed25519 NEW", "ssh-ed25519 CONFIRMED"]);
    expect(keysAccepted({ ...k, key: "ssh-ed25519 CONFIRMED" }, olds)).toEqual(["ssh-ed25519 CONFIRMED"]);
  });

  it("accepts the first-boot key again on a new server (another instance id), which booted with it", () => {
    expect(keysAccepted(k, { installedKey: "ssh-ed25519 CONFIRMED", triggers: ["i-0"] })).toEqual([
      "ssh-ed25519 NEW",
      "ssh-ed25519 FIRST",
    ]);
  });
});

describe("the host:HostKeyInstall provider", () => {
  it("is in the registry the providers bundle serves", () => {
    expect(providers["host:HostKeyInstall"]).toBe(hostKeyInstallProvider);
  });

  it("installs a new key over the first-boot key's connection, confirms it on its own, and only then pins it", async () => {
    await serverPresents(firstBoot);
    const key = await newKey();
    const { result, printed } = await printedBy(() => hostKeyInstallProvider.create(inputs(key)));
    expect(result.outs.installedKey).toBe(key.publicKey);
    expect(result.outs.fingerprint).toBe(hostKeyOf(key.publicKey).fingerprint);
    expect(result.outs.output).toBe("host key: swapped");
    expect(await presented()).toBe(key.publicKey);
    expect(printed).toContain(
      `The SSH host key of 127.0.0.1:${sshd.port} is now ${hostKeyOf(key.publicKey).fingerprint} (ssh-ed25519)`,
    );
    expect(printed).toContain(`The first-boot key ${hostKeyOf(firstBoot.publicKey).fingerprint}`);
  });

  it("takes a server that switched keys before the deploy stopped: the retry accepts the new key", async () => {
    await serverPresents(firstBoot);
    const key = await newKey();
    // The step switched the key, then failed: the engine keeps no state of this resource.
    await expect(hostKeyInstallProvider.create(inputs(key, { failAfter: true }))).rejects.toThrow(
      /Host step "host-key" failed .*the connection dropped here/s,
    );
    expect(await presented()).toBe(key.publicKey);
    // The next up: the same key (its host:HostKey is in the state), created again.
    const { outs } = await hostKeyInstallProvider.create(inputs(key));
    expect(outs.installedKey).toBe(key.publicKey);
  });

  it("pins nothing when the server does not present the new key afterwards, and the next run still gets in", async () => {
    await serverPresents(firstBoot);
    const key = await newKey();
    const failed = hostKeyInstallProvider.create(inputs(key, { broken: true }));
    await expect(failed).rejects.toThrow(
      `The host-key step installed ${hostKeyOf(key.publicKey).fingerprint} on 127.0.0.1:${sshd.port}, but a new ` +
        `connection was not offered it (the server presented ${hostKeyOf(firstBoot.publicKey).fingerprint} (ssh-ed25519)). ` +
        "Nothing is pinned to the new key",
    );
    expect(await presented()).toBe(firstBoot.publicKey);
    const { outs } = await hostKeyInstallProvider.create(inputs(key));
    expect(outs.installedKey).toBe(key.publicKey);
    expect(await presented()).toBe(key.publicKey);
  });

  it("rotates: a new key replaces the confirmed one, over a connection that accepts only those two", async () => {
    await serverPresents(firstBoot);
    const first = await newKey();
    const { outs } = await hostKeyInstallProvider.create(inputs(first));
    const next = await newKey();
    const news = inputs(next);
    expect(await hostKeyInstallProvider.diff("id", outs, news)).toEqual({ changes: true });
    const updated = await hostKeyInstallProvider.update!("id", outs, news);
    expect(updated.outs.installedKey).toBe(next.publicKey);
    expect(await presented()).toBe(next.publicKey);
  });

  it("once a key was confirmed, refuses a server presenting the first-boot key before logging in", async () => {
    await serverPresents(firstBoot);
    const confirmed = await newKey();
    const { outs } = await hostKeyInstallProvider.create(inputs(confirmed));
    // Someone who read the user data answers in the server's place, with the first-boot key.
    await serverPresents(firstBoot);
    const logins = sshd.loginAttempts().length;
    const next = await newKey();
    await expect(hostKeyInstallProvider.update!("id", outs, inputs(next))).rejects.toThrow(
      `Refused 127.0.0.1:${sshd.port}: it presented the SSH host key ${hostKeyOf(firstBoot.publicKey).fingerprint}`,
    );
    // No login: the new key's private half (in the step's script) never left.
    expect(sshd.loginAttempts().length).toBe(logins);
    expect(await presented()).toBe(firstBoot.publicKey);
  });

  it("accepts the first-boot key again on a new server (a replaced instance boots with it)", async () => {
    await serverPresents(firstBoot);
    const old = await newKey("instance-1");
    const { outs } = await hostKeyInstallProvider.create(inputs(old));
    await serverPresents(firstBoot);
    const fresh = await newKey("instance-2");
    const news = inputs(fresh, { triggers: ["instance-2"] });
    expect(await hostKeyInstallProvider.diff("id", outs, news)).toEqual({ changes: true });
    expect((await hostKeyInstallProvider.update!("id", outs, news)).outs.installedKey).toBe(fresh.publicKey);
  });

  it("runs again only for a new key or a new server, never for the same inputs, a new address or private key", async () => {
    const key = await newKey();
    const olds = {
      ...inputs(key),
      installedKey: key.publicKey,
      fingerprint: hostKeyOf(key.publicKey).fingerprint,
      output: "",
    } satisfies HostKeyInstallOutputs;
    const diff = (news: HostKeyInstallInputs) => hostKeyInstallProvider.diff("id", olds, news);
    expect(await diff(inputs(key))).toEqual({ changes: false });
    expect(await diff({ ...inputs(key), target: { ...inputs(key).target, privateKey: "another" } })).toEqual({
      changes: false,
    });
    expect(await diff({ ...inputs(key), target: { ...inputs(key).target, host: "127.0.0.2" } })).toEqual({
      changes: false,
    });
    expect(await diff(inputs(await newKey()))).toEqual({ changes: true });
    expect(await diff(inputs(key, { triggers: ["instance-2"] }))).toEqual({ changes: true });
  });
});
