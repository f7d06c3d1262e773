// Trust on first use: the host key a server presents, read during the key
// exchange, then the connection dropped before any login (as ssh-keyscan
// does). Only for a server whose key the stack does not know yet; whoever
// calls this pins what it returns and shows its fingerprint to the operator.
import ssh2 from "ssh2";
import { blobType, fingerprintOf, type HostKey } from "../host-keys.js";

/** A host that does not answer yet (booting, say) is tried again this often. */
const RETRY_MS = 5_000;

export async function scanHostKey(host: string, port: number, timeoutSeconds: number): Promise<HostKey> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const outcome = await presentedKey(host, port);
    if (!(outcome instanceof Error))
      return { type: blobType(outcome), blob: outcome.toString("base64"), fingerprint: fingerprintOf(outcome) };
    if (Date.now() + RETRY_MS > deadline)
      throw new Error(
        `Could not read the SSH host key of ${host}:${port} within ${timeoutSeconds} s (last error: ${outcome.message}). ` +
          "Check that the server runs and that this machine's address is in adminCidrs, or give the key yourself: " +
          'pulumi config set sshHostKey "$(cat /etc/ssh/ssh_host_ed25519_key.pub)" (that file, on the server).',
      );
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** One attempt: the key blob the server presented, or why there was none. */
function presentedKey(host: string, port: number): Promise<Buffer | Error> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let key: Buffer | undefined;
    let settled = false;
    const settle = (outcome: Buffer | Error) => {
      if (settled) return;
      settled = true;
      client.end();
      resolve(outcome);
    };
    client.on("error", (error) => settle(key ?? error));
    client.on("close", () => settle(key ?? new Error("the server closed the connection before its key exchange")));
    client.on("ready", () => settle(new Error("unexpected login")));
    client.connect({
      host,
      port,
      // Never sent: the key exchange ends the connection before any login.
      username: "host-key-scan",
      readyTimeout: 20_000,
      hostVerifier: (presented: Buffer) => {
        key = Buffer.from(presented);
        return false;
      },
    });
  });
}
