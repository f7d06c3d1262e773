// SSH to a host, one connection per host and key for the whole process: every
// command and upload of a deploy shares it as channels, so the host's
// fail2ban and ufw rate limit see one login, not one per step. The host must
// present a pinned host key, checked during the key exchange: a host with
// another key is refused before the login, so it receives nothing.
import { createHash } from "node:crypto";
import { posix } from "node:path";
import type { Duplex } from "node:stream";
import ssh2, { type Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from "ssh2";
import {
  checkHostKey,
  hostKeyAlgorithms,
  hostKeyOf,
  hostKeyRefusalMessage,
  type HostKey,
  type HostKeyRefusal,
} from "../host-keys.js";
import type { ExecResult, HeldCommand, OutputListener, Transport } from "./transport.js";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** An unencrypted OpenSSH or PEM private key. */
  privateKey: string;
  /**
   * The host keys the server may present (OpenSSH public key lines); any
   * other is refused. There is no "accept any": a key not known yet is
   * learnt on purpose, visibly (scanHostKey, the stack's host:KnownHost).
   */
  hostKeys: string[];
  /** How to pin a new key once the operator has checked it (a config key, a flag), for the refusal's message. */
  hostKeyFix: string;
  /**
   * How long to keep dialling a host that does not answer yet (a new VPS
   * takes a minute or two). After that the error says what to check.
   * @default 600
   */
  dialTimeoutSeconds?: number;
  /** The address of this machine to connect from, when it has several (a test of sshd's from= rules). */
  localAddress?: string;
}

const pool = new Map<string, Promise<Client>>();

function poolKey(target: SshTarget): string {
  // A connection checked against other pinned keys is not shared.
  const key = createHash("sha256")
    .update(JSON.stringify([target.privateKey, target.hostKeys]))
    .digest("hex")
    .slice(0, 16);
  return `${target.user}@${target.host}:${target.port}/${key}${target.localAddress ? ` from ${target.localAddress}` : ""}`;
}

/** The host presented a key that is not pinned: nothing was sent to it. Never retried. */
export class HostKeyRefusedError extends Error {
  override name = "HostKeyRefusedError";
  constructor(readonly refusal: HostKeyRefusal) {
    super(hostKeyRefusalMessage(refusal));
  }
}

/**
 * The options that make ssh2 check the host key during the key exchange,
 * before any authentication: only the pinned keys' types are offered, and
 * `onRefused` hears what another key was presented.
 */
export function pinnedHostKeyOptions(
  pinned: readonly HostKey[],
  onRefused: (presented: { type: string; fingerprint: string }) => void,
): Pick<ConnectConfig, "hostVerifier" | "algorithms"> {
  return {
    algorithms: {
      serverHostKey: hostKeyAlgorithms(pinned) as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"],
    },
    hostVerifier: (key: Buffer) => {
      const verdict = checkHostKey(key, pinned);
      if (!verdict.trusted) onRefused(verdict.presented);
      return verdict.trusted;
    },
  };
}

/** A server with no key of the pinned types fails the key exchange itself. */
const NO_PINNED_TYPE = /no matching host key format/i;

export class SshTransport implements Transport {
  readonly description: string;

  constructor(private readonly target: SshTarget) {
    this.description = `${target.user}@${target.host}:${target.port}`;
  }

  /** The output comes back without the whitespace around it (a line's newline, say). */
  async exec(command: string, stdin?: string, listener?: OutputListener): Promise<ExecResult> {
    const held = await this.hold(command, stdin ?? "", listener);
    held.end();
    const result = await held.result;
    return { code: result.code, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  }

  async hold(command: string, stdin: string, listener?: OutputListener): Promise<HeldCommand> {
    const client = await this.connection();
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      client.exec(command, (error, stream) => (error ? reject(error) : resolve(stream))),
    );
    let stdout = "";
    let stderr = "";
    channel.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      listener?.stdout?.(chunk);
    });
    channel.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      listener?.stderr?.(chunk);
    });
    const result = new Promise<ExecResult>((resolve) => {
      let code: number | null = null;
      channel.on("exit", (exitCode: number | null) => (code = exitCode ?? null));
      channel.on("close", () => resolve({ code, stdout, stderr }));
    });
    channel.write(stdin);
    return { end: (finalInput) => channel.end(finalInput ?? ""), result };
  }

  async connect(port: number): Promise<Duplex> {
    const client = await this.connection();
    return new Promise((resolve, reject) =>
      client.forwardOut("127.0.0.1", 0, "127.0.0.1", port, (error, stream) => {
        if (!error) return resolve(stream);
        reject(
          new Error(
            `${this.description} refused a tunnel to 127.0.0.1:${port} (${error.message}): the host's sshd must allow it ` +
              "(templates/host/ssh/00-platform-hardening.conf, installed by the bootstrap: run npm run up once)",
          ),
        );
      }),
    );
  }

  /** Copies a local file to the host (SFTP on the same connection), making its folder if missing. */
  async upload(localPath: string, remotePath: string): Promise<void> {
    await this.withSftp(async (sftp) => {
      const put = () => sftpCall<void>((done) => sftp.fastPut(localPath, remotePath, done));
      await put().catch(async (error: unknown) => {
        if (!isNoSuchFile(error)) throw error;
        await sftpMakeFolder(sftp, posix.dirname(remotePath));
        await put();
      });
    });
  }

  /** Copies a file from the host (SFTP on the same connection). */
  async download(remotePath: string, localPath: string): Promise<void> {
    await this.withSftp((sftp) => sftpCall<void>((done) => sftp.fastGet(remotePath, localPath, done)));
  }

  async endSession(): Promise<void> {
    const key = poolKey(this.target);
    const connection = pool.get(key);
    pool.delete(key);
    if (connection) (await connection.catch(() => undefined))?.end();
  }

  private async withSftp<T>(work: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    const client = await this.connection();
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((error, opened) => (error ? reject(error) : resolve(opened))),
    );
    try {
      return await work(sftp);
    } finally {
      sftp.end();
    }
  }

  private connection(): Promise<Client> {
    const key = poolKey(this.target);
    let connection = pool.get(key);
    if (!connection) {
      connection = dial(this.target);
      pool.set(key, connection);
      // A failed dial must not poison the next attempt; a dropped connection
      // neither. (Only this connection's own entry: a new one may have taken its place.)
      const forget = () => {
        if (pool.get(key) === connection) pool.delete(key);
      };
      connection.then((client) => client.once("close", forget), forget);
    }
    return connection;
  }
}

/**
 * A host that answers but refuses the key: for a new VPS, cloud-init has not
 * created the deploy user yet (a minute or two); longer than this, the key
 * or the user is wrong, and waiting the whole dial timeout helps nobody.
 */
const REFUSED_KEY_PATIENCE_MS = 180_000;

async function dial(target: SshTarget): Promise<Client> {
  const pinned = (target.hostKeys ?? []).map(hostKeyOf);
  if (pinned.length === 0)
    throw new Error(
      `No SSH host key is pinned for ${target.host}:${target.port}: refusing to connect. ${target.hostKeyFix}`,
    );
  const timeoutMs = (target.dialTimeoutSeconds ?? 600) * 1000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let refusedSince: number | undefined;
  for (;;) {
    let presented: { type: string; fingerprint: string } | undefined;
    try {
      return await login({
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        readyTimeout: 20_000,
        keepaliveInterval: 15_000,
        ...(target.localAddress ? { localAddress: target.localAddress } : {}),
        ...pinnedHostKeyOptions(pinned, (key) => (presented = key)),
      });
    } catch (error) {
      lastError = error;
    }
    // Another key is no reason to wait: the answer will not change.
    if (presented || (lastError instanceof Error && NO_PINNED_TYPE.test(lastError.message)))
      throw new HostKeyRefusedError({
        where: `${target.host}:${target.port}`,
        presented,
        pinned,
        fix: target.hostKeyFix,
      });
    const refused = lastError instanceof Error && /authentication methods failed/i.test(lastError.message);
    refusedSince = refused ? (refusedSince ?? Date.now()) : undefined;
    if (refusedSince !== undefined && Date.now() - refusedSince > REFUSED_KEY_PATIENCE_MS) {
      throw new Error(
        `${target.host}:${target.port} answers SSH but has refused the key for ${target.user} for ${REFUSED_KEY_PATIENCE_MS / 1000} s. ` +
          `Check that sshPrivateKey is the pair of sshPublicKey and that ${target.user} exists with that key ` +
          `(cloud-init creates it on a Vultr instance; on your own server, templates/host/create-deploy-user.sh).`,
      );
    }
    if (Date.now() + 5_000 > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(
    `Could not log in to ${target.user}@${target.host}:${target.port} over SSH within ${timeoutMs / 1000} s (last error: ${reason}). ` +
      `Check that this machine's address is in the stack's adminCidrs (the firewall lets only those in), ` +
      `that the host is running, and that ${target.user} has the stack's public key.`,
  );
}

/** One login: the client once ready, or why not. */
function login(config: ConnectConfig): Promise<Client> {
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      reject(error);
      client.end();
    };
    client.on("error", failed);
    client.once("close", () => reject(new Error("the server closed the connection before the login")));
    client.once("ready", () => {
      // Later errors close the connection, and the pool forgets it.
      client.removeListener("error", failed).on("error", () => undefined);
      resolve(client);
    });
    client.connect(config);
  });
}

function sftpCall<T>(call: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((error, value) => (error ? reject(error) : resolve(value as T))));
}

/** SFTP's "no such file" status, the only one a missing folder gives. */
function isNoSuchFile(error: unknown): boolean {
  return (error as { code?: unknown })?.code === ssh2.utils.sftp.STATUS_CODE.NO_SUCH_FILE;
}

/** `mkdir -p` over SFTP. */
async function sftpMakeFolder(sftp: SFTPWrapper, folder: string): Promise<void> {
  const made = await sftpCall<void>((done) => sftp.mkdir(folder, done)).then(
    () => true,
    (error: unknown) => error,
  );
  if (made === true) return;
  const exists = await sftpCall((done) => sftp.stat(folder, done)).then(
    () => true,
    () => false,
  );
  if (exists) return;
  const parent = posix.dirname(folder);
  if (parent === folder || !isNoSuchFile(made)) throw made;
  await sftpMakeFolder(sftp, parent);
  await sftpCall<void>((done) => sftp.mkdir(folder, done));
}
