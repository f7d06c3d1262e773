// Checks of the stack's SSH key pair that would otherwise fail only on the
// host: a private key with a passphrase (no step can type it) and a private
// key that is not the public key's pair (every login would be refused).

export type PrivateKeyProblem = "not-a-key" | "encrypted" | "not-the-pair";

const OPENSSH = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/;
const PEM = /-----BEGIN (RSA |EC |)PRIVATE KEY-----/;

/** The key blob (base64) of an OpenSSH public key line. */
export function publicKeyBlob(publicKeyLine: string): string | undefined {
  return publicKeyLine.trim().split(/\s+/)[1];
}

/**
 * Reads an OpenSSH private key's header ("openssh-key-v1", the cipher, the
 * public key it holds in the clear) to find the problems above; PEM keys are
 * checked for the encryption marker only.
 */
export function privateKeyProblem(privateKey: string, publicKeyLine: string): PrivateKeyProblem | undefined {
  const openssh = OPENSSH.exec(privateKey);
  if (!openssh) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(privateKey) || /Proc-Type: 4,ENCRYPTED/.test(privateKey))
      return "encrypted";
    return PEM.test(privateKey) ? undefined : "not-a-key";
  }
  const data = Buffer.from(openssh[1]!.replace(/\s+/g, ""), "base64");
  const magic = "openssh-key-v1\0";
  if (data.subarray(0, magic.length).toString("latin1") !== magic) return "not-a-key";
  let offset = magic.length;
  const next = (): Buffer | undefined => {
    if (offset + 4 > data.length) return undefined;
    const length = data.readUInt32BE(offset);
    if (offset + 4 + length > data.length) return undefined;
    const value = data.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    return value;
  };
  const cipher = next()?.toString("latin1");
  next(); // kdf name
  next(); // kdf options
  if (cipher === undefined || offset + 4 > data.length) return "not-a-key";
  if (cipher !== "none") return "encrypted";
  offset += 4; // number of keys
  const embeddedPublic = next();
  if (!embeddedPublic) return "not-a-key";
  const expected = publicKeyBlob(publicKeyLine);
  if (expected !== undefined && embeddedPublic.toString("base64") !== expected) return "not-the-pair";
  return undefined;
}
