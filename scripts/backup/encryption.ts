// Client-side encryption of backups with age (the age-encryption package,
// typage, by age's author): files are encrypted to the operator's
// recipients (public keys, age1...) before they leave the machine that takes
// them, and decrypted only with the operator's identity (AGE-SECRET-KEY-1...),
// which never goes to the host or the bucket. age authenticates every 64 KiB
// chunk and the end of the file: a byte changed, or a file cut short, fails
// to decrypt. Everything streams: memory stays bounded whatever the size.
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream } from "node:stream/web";
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { BackupError } from "./errors.js";

/** X25519 recipients (age-keygen) and hybrid post-quantum ones (age-keygen -pq). */
const RECIPIENT = /^age1(pq1)?[02-9ac-hj-np-z]+$/;

/**
 * The recipients in a list separated by commas or white space, each checked
 * by the library that uses them. Throws an Error naming the bad one.
 */
export function parseRecipients(text: string): string[] {
  const recipients = text.split(/[\s,]+/).filter(Boolean);
  for (const recipient of recipients) {
    const shown = recipient.length > 20 ? `${recipient.slice(0, 20)}...` : recipient;
    if (recipient.startsWith("AGE-SECRET-KEY"))
      throw new Error(
        `holds an identity (AGE-SECRET-KEY-...), the secret half: give its recipient (age1...) instead, which age-keygen -y prints, and keep the identity offline`,
      );
    if (!RECIPIENT.test(recipient))
      throw new Error(`"${shown}" is not an age recipient (age1..., as age-keygen prints it)`);
    try {
      new Encrypter().addRecipient(recipient);
    } catch {
      throw new Error(`"${shown}" is not a valid age recipient (a typo, or cut short)`);
    }
  }
  return [...new Set(recipients)];
}

/**
 * The identities in an age identity file (age-keygen's output: one
 * AGE-SECRET-KEY-1... a line, # comments), each checked; with the recipient
 * each one decrypts for, to tell the operator which key is which.
 */
export async function readIdentityFile(path: string): Promise<{ identities: string[]; recipients: string[] }> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new BackupError(
      `cannot read the identity file ${path} (--identity or OPS_BACKUP_IDENTITY): ${(error as Error).message}`,
    );
  }
  if (text.startsWith("age-encryption.org/") || text.includes("BEGIN AGE ENCRYPTED FILE"))
    throw new BackupError(
      `${path} is an encrypted identity file: decrypt it first (age -d -o FILE ${path}) and pass the copy, kept private`,
    );
  const identities = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (identities.length === 0)
    throw new BackupError(`${path} holds no age identity (AGE-SECRET-KEY-1..., from age-keygen)`);
  const recipients: string[] = [];
  for (const [index, identity] of identities.entries()) {
    try {
      recipients.push(await identityToRecipient(identity));
    } catch {
      throw new BackupError(
        `${path}: line ${index + 1} of its keys is not an age identity (AGE-SECRET-KEY-1..., from age-keygen)`,
      );
    }
  }
  return { identities, recipients };
}

/** A new key pair, as age-keygen makes one. */
export async function generateKeyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/**
 * A Node stream as the web stream the library reads, one chunk per pull (so
 * the reader sets the pace), stopped when the library gives up. (Node 20's
 * Readable.toWeb goes on pushing after a cancel and throws out of band.)
 */
function toWeb(source: Readable): globalThis.ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | Uint8Array>;
  return new globalThis.ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await chunks.next();
      // A plain Uint8Array over the same bytes: Buffer's slice() shares memory, Uint8Array's copies.
      if (done) controller.close();
      else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    },
    async cancel() {
      await chunks.return?.();
      source.destroy();
    },
  });
}

/** `source` encrypted to `recipients`, as it is read. */
export async function encryptStream(source: Readable, recipients: readonly string[]): Promise<Readable> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  return Readable.fromWeb((await encrypter.encrypt(toWeb(source))) as unknown as ReadableStream<Uint8Array>);
}

/**
 * `source` decrypted with `identities`, as it is read: the header is checked
 * before this resolves (a file for other keys is refused here), each chunk
 * as it arrives, and the end of the file last, so a consumer must treat
 * what it wrote as unproven until the stream ends without an error.
 */
export async function decryptStream(source: Readable, identities: readonly string[], what: string): Promise<Readable> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  let plain: globalThis.ReadableStream<Uint8Array>;
  try {
    plain = await decrypter.decrypt(toWeb(source));
  } catch (error) {
    throw decryptionError(what, error);
  }
  const out = Readable.fromWeb(plain as unknown as ReadableStream<Uint8Array>);
  // Said in words, whichever chunk failed.
  async function* explained() {
    try {
      for await (const chunk of out) yield chunk as Uint8Array;
    } catch (error) {
      throw decryptionError(what, error);
    }
  }
  return Readable.from(explained(), { objectMode: false });
}

export function decryptionError(what: string, error: unknown): BackupError {
  const reason = error instanceof Error ? error.message : String(error);
  return new BackupError(
    `${what} does not decrypt (${reason}): it was altered, cut short, or encrypted to other keys than the identity given; nothing was restored`,
  );
}
