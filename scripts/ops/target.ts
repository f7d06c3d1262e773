// Which host a day-2 command talks to, and how: --local (the stack that
// `npm run local` runs, through this machine's shell), or a server over SSH
// found from flags, then an operator's .env (OPS_HOST, OPS_USER, OPS_SSH_PORT,
// OPS_SSH_KEY, OPS_SSH_HOST_KEY, OPS_STACK), then the Pulumi stack's outputs
// and config. A server is always reached with its host key pinned.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hostKeyLine, parseHostKey } from "../../infra/host/host-keys.js";
import { PRODUCTION_PATHS, type HostPaths } from "../../infra/host/steps.js";
import { SshTransport, type SshTarget } from "../../infra/host/runner/ssh.js";
import type { Transport } from "../../infra/host/runner/transport.js";
import { ROOT } from "../project-root.js";
import type { BucketSettings } from "../backup/object-store.js";
import { bucketFrom, bucketFromEnv, recipientsFrom, recipientsFromEnv } from "./backup-access.js";
import type { LocalCaddy } from "./host-commands.js";
import { localTarget } from "./local-target.js";
import { OpsError } from "./ops-error.js";
import { pulumiOnStack } from "./pulumi-stack.js";
import { pulumiStackAccess, type StackAccess } from "./stack-secrets.js";

export interface Target {
  description: string;
  transport: Transport;
  paths: HostPaths;
  /** Set for the local stack: Caddy's ports and files there. */
  local?: LocalCaddy;
  /** For `ssh`; undefined for the local stack. */
  ssh?: SshTarget;
  /** The API's JWT secret, for `token`. */
  jwtSecret(): string;
  /** The `iss` / `aud` the API requires (JWT_ISSUER / JWT_AUDIENCE), for `token`. */
  jwtClaims(): { issuer?: string; audience?: string };
  /** The API's JWT_MAX_LIFETIME when the stack sets one, for `token`. */
  jwtMaxLifetime?(): string | undefined;
  /** The stack's backup bucket, or undefined when it has none. */
  bucket(): BucketSettings | undefined;
  /** Who backups are encrypted to (backupRecipients, or OPS_BACKUP_RECIPIENTS); none: not encrypted. */
  backupRecipients(): string[];
  /** Where the stack's settings and secrets are kept, for `rotate`; undefined for a server named by --host. */
  stack?: StackAccess;
}

export interface TargetFlags {
  local?: boolean;
  localDir?: string;
  host?: string;
  user?: string;
  port?: string;
  key?: string;
  /** The server's public host key line, for a server named by --host (or to override the stack's). */
  hostKey?: string;
  stack?: string;
}

export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): Target {
  if (flags.local) return localTarget(flags.localDir ?? env.OPS_LOCAL_DIR ?? join(ROOT, ".tmp/local"), env);
  const stack = flags.stack ?? env.OPS_STACK ?? "prod";
  // A server named by flags or .env is taken as given (the deploy user on
  // port 22 unless said otherwise); otherwise the stack tells.
  const named = flags.host ?? env.OPS_HOST;
  let cached: { outputs: Record<string, unknown>; config: Record<string, { value?: unknown }> } | undefined;
  const fromStack = () => (cached ??= readStack(stack, env));
  const config = (key: string) => (named ? undefined : fromStack().config[`conversational-platform:${key}`]?.value);

  const host = named ?? stringOr(fromStack().outputs.ipv4);
  if (!host)
    throw new OpsError(
      `stack ${stack} has no server yet: it was never deployed (it has no outputs). ` +
        "Deploy it with npm run up, or name a server: --host ADDRESS --key FILE --host-key 'ssh-ed25519 AAAA...'",
    );
  const user = flags.user ?? env.OPS_USER ?? stringOr(config("deployUser")) ?? "deploy";
  const port = Number(flags.port ?? env.OPS_SSH_PORT ?? stringOr(config("sshPort")) ?? 22);
  const keyFile = flags.key ?? env.OPS_SSH_KEY;
  let privateKey: string;
  if (keyFile) {
    if (!existsSync(keyFile)) throw new OpsError(`the SSH key ${keyFile} does not exist (--key or OPS_SSH_KEY)`);
    privateKey = readFileSync(keyFile, "utf8");
  } else {
    const fromConfig = stringOr(config("sshPrivateKey"));
    if (!fromConfig)
      throw new OpsError(
        named
          ? "give the deploy key with --key FILE (or OPS_SSH_KEY)"
          : `stack ${stack} has no sshPrivateKey: give the deploy key with --key FILE`,
      );
    privateKey = fromConfig;
  }
  // Built on first use: a command that never reaches the host (token) needs no host key.
  let ssh: SshTarget | undefined;
  const sshTarget = (): SshTarget =>
    (ssh ??= {
      host,
      port,
      user,
      privateKey,
      hostKeys: [pinnedHostKey(flags.hostKey ?? env.OPS_SSH_HOST_KEY, named ? undefined : fromStack().outputs, stack)],
      hostKeyFix: named
        ? "give the new key with --host-key (or OPS_SSH_HOST_KEY)."
        : `pin it in the stack: pulumi config set sshHostKey "<that line>" --stack ${stack}, then npm run up (or, for one command, --host-key).`,
      dialTimeoutSeconds: 30,
    });
  let transport: SshTransport | undefined;
  return {
    description: `${user}@${host}:${port}`,
    get transport() {
      return (transport ??= new SshTransport(sshTarget()));
    },
    paths: PRODUCTION_PATHS,
    get ssh() {
      return sshTarget();
    },
    stack: named ? undefined : pulumiStackAccess(stack, env),
    jwtSecret: () => {
      const secret = env.OPS_JWT_SECRET ?? stringOr(config("jwtSecret"));
      if (!secret)
        throw new OpsError(
          named
            ? "no JWT secret for a server named by --host: set OPS_JWT_SECRET"
            : "no JWT secret: set OPS_JWT_SECRET, or read it from the stack (PULUMI_CONFIG_PASSPHRASE)",
        );
      return secret;
    },
    // An operator's OPS_JWT_ISSUER / OPS_JWT_AUDIENCE win; otherwise the stack's own settings.
    jwtClaims: () => ({
      issuer: env.OPS_JWT_ISSUER || stringOr(config("jwtIssuer")) || undefined,
      audience: env.OPS_JWT_AUDIENCE || stringOr(config("jwtAudience")) || undefined,
    }),
    jwtMaxLifetime: () => env.OPS_JWT_MAX_LIFETIME || stringOr(config("jwtMaxLifetime")),
    bucket: () =>
      bucketFromEnv(env) ??
      (named
        ? undefined
        : bucketFrom({
            endpoint: stringOr(fromStack().outputs.backupEndpoint),
            bucket: stringOr(fromStack().outputs.backupBucket),
            accessKey: stringOr(fromStack().outputs.backupAccessKey),
            secretKey: stringOr(fromStack().outputs.backupSecretKey),
          })),
    backupRecipients: () =>
      recipientsFromEnv(env) ?? recipientsFrom("backupRecipients", stringOr(config("backupRecipients")) ?? ""),
  };
}

/**
 * The host key to pin: the operator's (--host-key, OPS_SSH_HOST_KEY), else
 * the stack's output. A server named by --host has no stack to ask: without
 * a key, refuse, and say where to find it.
 */
function pinnedHostKey(given: string | undefined, outputs: Record<string, unknown> | undefined, stack: string): string {
  const value = given ?? stringOr(outputs?.sshHostKey);
  if (!value) {
    throw new OpsError(
      outputs
        ? `stack ${stack} has no sshHostKey output yet: run npm run up once (it pins the server's SSH host key), ` +
            "or give the key with --host-key 'ssh-ed25519 AAAA...'"
        : "a server named by --host (OPS_HOST) needs its SSH host key: --host-key 'ssh-ed25519 AAAA...' (or OPS_SSH_HOST_KEY). " +
            "Take it from the stack (npm run pulumi -- stack output sshHostKey) or from the server's console " +
            "(cat /etc/ssh/ssh_host_ed25519_key.pub); ssh-keyscan -t ed25519 -p PORT HOST prints it too, but compare its " +
            "fingerprint (ssh-keygen -lf) with the console's before trusting it",
    );
  }
  const key = parseHostKey(value);
  if ("problem" in key)
    throw new OpsError(
      `the SSH host key to pin (${given ? "--host-key or OPS_SSH_HOST_KEY" : `stack ${stack}'s sshHostKey output`}) ${key.problem}`,
    );
  return hostKeyLine(key);
}

/** The stack's outputs, then (when first asked) its config: a stack never deployed stops at the first. */
function readStack(stack: string, env: NodeJS.ProcessEnv) {
  const json = <T>(args: string[]) => JSON.parse(pulumiOnStack(stack, args, undefined, env)) as T;
  const outputs = json<Record<string, unknown>>(["stack", "output", "--json", "--show-secrets"]);
  let config: Record<string, { value?: unknown }> | undefined;
  return {
    outputs,
    get config() {
      return (config ??= json<Record<string, { value?: unknown }>>(["config", "--json", "--show-secrets"]));
    },
  };
}

function stringOr(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : typeof value === "number" ? String(value) : undefined;
}
