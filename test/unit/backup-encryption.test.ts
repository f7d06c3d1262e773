// Backups encrypted with age (scripts/backup/encryption.ts): a round trip
// through the streams, and every way a file can fail to decrypt.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import {
  decryptStream,
  encryptStream,
  generateKeyPair,
  parseRecipients,
  readIdentityFile,
} from "../../scripts/backup/encryption.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** `bytes` in chunks of odd sizes, as a disk or a socket hands them over. */
function chunked(bytes: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let at = 0, size = 1; at < bytes.length; at += size, size = (size * 7) % 100_003 || 1)
    parts.push(bytes.subarray(at, at + size));
  return Readable.from(parts, { objectMode: false });
}

async function encrypt(bytes: Buffer, recipients: string[]): Promise<Buffer> {
  return collect(await encryptStream(chunked(bytes), recipients));
}

async function decrypt(bytes: Buffer, identities: string[]): Promise<Buffer> {
  return collect(await decryptStream(chunked(bytes), identities, "streams/CONVERSATIONS.tar.s2.age"));
}

describe("age encryption of backups", async () => {
  const operator = await generateKeyPair();
  const second = await generateKeyPair();
  const stranger = await generateKeyPair();
  // Several of age's 64 KiB chunks, and a last one that is not full.
  const plaintext = randomBytes(3 * 64 * 1024 + 123);
  const scratch = scratchDir("age");
  afterAll(() => scratch.remove());

  it("round-trips a file of several chunks byte for byte, for each recipient", async () => {
    const ciphertext = await encrypt(plaintext, [operator.recipient, second.recipient]);
    expect(ciphertext.subarray(0, 22).toString()).toBe("age-encryption.org/v1\n");
    expect(ciphertext.includes(plaintext.subarray(0, 64))).toBe(false);
    expect((await decrypt(ciphertext, [operator.identity])).equals(plaintext)).toBe(true);
    expect((await decrypt(ciphertext, [second.identity])).equals(plaintext)).toBe(true);
    expect((await decrypt(await encrypt(Buffer.alloc(0), [operator.recipient]), [operator.identity])).length).toBe(0);
  });

  it("refuses a file for other keys before giving any byte", async () => {
    const ciphertext = await encrypt(plaintext, [operator.recipient]);
    await expect(decryptStream(chunked(ciphertext), [stranger.identity], "manifest.json.age")).rejects.toThrow(
      /manifest\.json\.age does not decrypt \(.*\): it was altered, cut short, or encrypted to other keys/,
    );
  });

  it("refuses a file with one byte changed anywhere: header, a middle chunk, the last chunk", async () => {
    const ciphertext = await encrypt(plaintext, [operator.recipient]);
    for (const at of [30, 200, ciphertext.length >> 1, ciphertext.length - 5]) {
      const altered = Buffer.from(ciphertext);
      altered[at] = altered[at]! ^ 0x01;
      await expect(decrypt(altered, [operator.identity]), `byte ${at}`).rejects.toThrow(
        /streams\/CONVERSATIONS\.tar\.s2\.age does not decrypt/,
      );
    }
  });

  it("refuses a file cut short, even at a chunk's boundary, or with bytes added", async () => {
    const ciphertext = await encrypt(plaintext, [operator.recipient]);
    const headerAndNonce = ciphertext.length - (plaintext.length + 4 * 16);
    const chunkOnDisk = 64 * 1024 + 16;
    for (const length of [ciphertext.length - 1, headerAndNonce + chunkOnDisk, headerAndNonce + 2 * chunkOnDisk, 100])
      await expect(decrypt(ciphertext.subarray(0, length), [operator.identity]), `cut at ${length}`).rejects.toThrow(
        /does not decrypt/,
      );
    await expect(decrypt(Buffer.concat([ciphertext, Buffer.from("x")]), [operator.identity])).rejects.toThrow(
      /does not decrypt/,
    );
  });

  it("takes recipients separated by commas or spaces, and refuses anything else, naming it", () => {
    expect(parseRecipients(`${operator.recipient}, ${second.recipient}\n${operator.recipient}`)).toEqual([
      operator.recipient,
      second.recipient,
    ]);
    expect(parseRecipients("")).toEqual([]);
    expect(() => parseRecipients("ssh-ed25519 AAAA")).toThrow(/"ssh-ed25519" is not an age recipient \(age1\.\.\./);
    expect(() => parseRecipients(operator.recipient.slice(0, -1))).toThrow(
      /is not a valid age recipient \(a typo, or cut short\)/,
    );
    const typo = operator.recipient.slice(0, -1) + (operator.recipient.endsWith("q") ? "p" : "q");
    expect(() => parseRecipients(typo)).toThrow(/is not a valid age recipient/);
    expect(() => parseRecipients(operator.identity)).toThrow(
      /holds an identity \(AGE-SECRET-KEY-\.\.\.\), the secret half/,
    );
  });

  it("reads an identity file as age-keygen writes it, and refuses what is not one", async () => {
    const file = join(scratch.path, "key.txt");
    writeFileSync(file, `# created: 2026-11-28T12:00:00Z\n# public key: ${operator.recipient}\n${operator.identity}\n`);
    expect(await readIdentityFile(file)).toEqual({ identities: [operator.identity], recipients: [operator.recipient] });
    writeFileSync(file, `# nothing\n`);
    await expect(readIdentityFile(file)).rejects.toThrow(/holds no age identity/);
    writeFileSync(file, `${operator.recipient}\n`);
    await expect(readIdentityFile(file)).rejects.toThrow(/line 1 of its keys is not an age identity/);
    await expect(readIdentityFile(join(scratch.path, "missing"))).rejects.toThrow(
      /cannot read the identity file .*missing \(--identity or OPS_BACKUP_IDENTITY\)/,
    );
  });
});
