// The host key decisions: what a pinned key line is, its fingerprint (the
// same as ssh-keygen's), whether a presented key is pinned, which host key
// algorithms to offer, and what the refusal tells the operator.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkHostKey,
  hostKeyAlgorithms,
  hostKeyLine,
  hostKeyOf,
  hostKeyRefusalMessage,
  parseHostKey,
} from "../../infra/host/host-keys.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const scratch = scratchDir("host-key-unit");
afterAll(() => scratch.remove());

function keyPair(type: "ed25519" | "rsa" | "ecdsa", name: string) {
  const path = join(scratch.path, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "root@server", "-f", path]);
  const line = readFileSync(`${path}.pub`, "utf8").trim();
  const fingerprint = execFileSync("ssh-keygen", ["-lf", `${path}.pub`], { encoding: "utf8" }).split(" ")[1]!;
  return {
    line,
    fingerprint,
    privateKey: readFileSync(path, "utf8"),
    blob: Buffer.from(line.split(" ")[1]!, "base64"),
  };
}

const ed = keyPair("ed25519", "ed");
const other = keyPair("ed25519", "other");
const rsa = keyPair("rsa", "rsa");
const ecdsa = keyPair("ecdsa", "ecdsa");

describe("parseHostKey", () => {
  it.each([
    ["ed25519", ed],
    ["rsa", rsa],
    ["ecdsa", ecdsa],
  ])("reads a %s .pub line, with the fingerprint ssh-keygen -l prints", (_name, key) => {
    const parsed = hostKeyOf(key.line);
    expect(parsed.fingerprint).toBe(key.fingerprint);
    expect(hostKeyLine(parsed)).toBe(key.line.split(" ").slice(0, 2).join(" "));
  });

  it.each([
    ["", /is empty/],
    [ed.privateKey, /is a private key; the server's public host key is wanted/],
    [`${ed.line}\n${other.line}`, /more than one line/],
    ["ssh-ed25519 AAAAnotakey", /is not an OpenSSH public key line/],
    [`10.0.0.2 ${ed.line}`, /is not an OpenSSH public key line/],
    [ed.line.replace("ssh-ed25519", "ssh-rsa"), /is not an OpenSSH public key line/],
  ])("refuses %j, saying why", (text, problem) => {
    const parsed = parseHostKey(text);
    expect("problem" in parsed && parsed.problem).toMatch(problem);
  });
});

describe("checkHostKey", () => {
  it("trusts exactly the pinned keys", () => {
    expect(checkHostKey(ed.blob, [hostKeyOf(ed.line)])).toEqual({ trusted: true });
    expect(checkHostKey(ed.blob, [hostKeyOf(other.line), hostKeyOf(ed.line)])).toEqual({ trusted: true });
  });

  it("names what another key is", () => {
    expect(checkHostKey(other.blob, [hostKeyOf(ed.line)])).toEqual({
      trusted: false,
      presented: { type: "ssh-ed25519", fingerprint: other.fingerprint },
    });
    expect(checkHostKey(rsa.blob, [hostKeyOf(ed.line)])).toMatchObject({ presented: { type: "ssh-rsa" } });
  });
});

describe("hostKeyAlgorithms", () => {
  it("offers only the pinned types, RSA with its three signature algorithms", () => {
    expect(hostKeyAlgorithms([hostKeyOf(ed.line)])).toEqual(["ssh-ed25519"]);
    expect(hostKeyAlgorithms([hostKeyOf(ecdsa.line), hostKeyOf(rsa.line), hostKeyOf(ed.line)])).toEqual([
      "ecdsa-sha2-nistp256",
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
      "ssh-ed25519",
    ]);
  });
});

describe("hostKeyRefusalMessage", () => {
  it("names the server, both fingerprints, that nothing was sent, and the fix", () => {
    const message = hostKeyRefusalMessage({
      where: "203.0.113.10:22",
      presented: { type: "ssh-ed25519", fingerprint: other.fingerprint },
      pinned: [hostKeyOf(ed.line)],
      fix: 'pin it: pulumi config set sshHostKey "<line>", then npm run up.',
    });
    expect(message).toBe(
      `Refused 203.0.113.10:22: it presented the SSH host key ${other.fingerprint} (ssh-ed25519), but the key pinned ` +
        `for it is ${ed.fingerprint} (ssh-ed25519). Nothing was sent to it (no login, no command, no file). Either another ` +
        "machine answers at this address (a spoofed name, a machine on the path, an address now given to someone else), " +
        "or the server's key really changed (a reinstall), or the server predates pinned keys (a Vultr server created " +
        "before this toolkit made host keys keeps its image's own, and the key made for it since was never installed " +
        "there). Check on the server's own console (Vultr's web console, or its provider's): ssh-keygen -lf " +
        "/etc/ssh/ssh_host_ed25519_key.pub prints its fingerprint and cat /etc/ssh/ssh_host_ed25519_key.pub its line. " +
        "Only if that fingerprint matches what was presented: " +
        'pin it: pulumi config set sshHostKey "<line>", then npm run up.',
    );
  });

  it("says when the server offered no key of the pinned type", () => {
    const message = hostKeyRefusalMessage({ where: "h:22", pinned: [hostKeyOf(rsa.line)], fix: "x" });
    expect(message).toContain(
      `it offered no host key of the pinned type (ssh-rsa), but the key pinned for it is ${rsa.fingerprint}`,
    );
  });
});
