// `npm run ops -- <command> [options]`: day-2 operations on the platform's
// host, over SSH (or on the local stack with --local). The decisions are in
// scripts/ops/ (host commands and parsers, as data); what runs on the host is
// templates/host/ops/.
import { userInfo, hostname } from "node:os";
import { join, resolve } from "node:path";
import { config as loadDotenv } from "dotenv";
import { $, chalk, minimist, spinner } from "zx";
import { terminalSafe } from "../infra/host/runner/terminal-safe.js";
import { ROOT } from "./project-root.js";
import { dashboard } from "./ops/commands/dashboard.js";
import { parseLocalPort } from "./ops/dashboard.js";
import { backup, backupKey, listBackups, purge, restore } from "./ops/commands/backup.js";
import { deploy, rollback } from "./ops/commands/deploy.js";
import { logs } from "./ops/commands/logs.js";
import { alerts, silence } from "./ops/commands/alerts.js";
import { parseSilence } from "./ops/alerts.js";
import { releases } from "./ops/commands/releases.js";
import { restart } from "./ops/commands/restart.js";
import { ssh } from "./ops/commands/ssh.js";
import { status } from "./ops/commands/status.js";
import { token } from "./ops/commands/token.js";
import { revoke } from "./ops/commands/revoke.js";
import { rotate } from "./ops/commands/rotate.js";
import { newSecret } from "./ops/new-secret.js";
import { SECRET_KINDS, type SecretKind } from "./ops/rotation.js";
import { ENV_SAFE } from "../infra/host/render.js";
import ms from "ms";
import { SERVICES, type Service } from "./ops/host-commands.js";
import { OpsError } from "./ops/ops-error.js";
import { resolveTarget } from "./ops/target.js";

const TARGET_HELP = `Target (default: the Pulumi stack's server):
  --local [--local-dir DIR]   the stack npm run local runs (.tmp/local)
  --host ADDRESS --user NAME --port N --key FILE --host-key 'ssh-ed25519 AAAA...'
  --stack NAME                the Pulumi stack to read (prod)
  The server's SSH host key is always checked: the stack's (output sshHostKey),
  or --host-key, which a server named by --host needs.
  An optional .env here may set OPS_HOST, OPS_USER, OPS_SSH_PORT, OPS_SSH_KEY,
  OPS_SSH_HOST_KEY, OPS_STACK.`;

const HELP: Record<string, string> = {
  status: `status [--json]
  The API through Caddy, the containers, the release in service, JetStream's
  usage and limits, the data directory's disk use, the certificate, the last
  backup, the alerts firing. Exits 2 when the API does not answer through Caddy.`,
  alerts: `alerts [--json]
  The alerts firing on the host (Alertmanager, through the tunnel): severity,
  since when, summary and runbook, most severe first; silenced and inhibited
  ones marked; whether the heartbeat still pings the outside check.`,
  silence: `silence ALERTNAME --for 2h [--comment TEXT]
  No notices for ALERTNAME (every instance of it) for that long (at most 30d);
  it still shows in alerts, marked silenced. Recorded in Alertmanager with your name.`,
  dashboard: `dashboard [--local-port N]
  An SSH tunnel to the host's Prometheus (127.0.0.1:9090 there) and the
  address of its dashboard here (http://127.0.0.1:N/consoles/dashboard.html):
  requests, errors, time to first token, streams, store, disk, backups and
  firing alerts. Open it in a browser; Ctrl-C closes the tunnel. Without
  --local-port, any free port (--port is the host's SSH port).`,
  logs: `logs [api|nats|caddy|all] [--follow] [--since 10m] [--tail 100] [--grep PATTERN]
  The instances' logs, each line labelled, and Caddy's access log.`,
  releases: `releases [--json]
  The releases on the host, the one in service, where a rollback goes, recent deploys.`,
  deploy: `deploy [--bundle FILE]
  Builds the API bundle (or takes FILE), installs it as a new release and puts
  it in service one instance at a time; back to the previous release by itself
  when the new one is not healthy. One deploy at a time; each is audited.`,
  rollback: `rollback [RELEASE]
  Back to the previous release (or RELEASE), the same careful way.`,
  restart: `restart api|nats|caddy
  The API instances one at a time, NATS, or Caddy by a reload (open streams stay).`,
  backup: `backup [--out DIR] [--upload] [--keep N]
  The API's JetStream streams and KV buckets, with the server's snapshot API
  through an SSH tunnel, while the platform serves: a folder in DIR (./backups)
  with a manifest of streams, message counts, last sequences and checksums,
  every file age-encrypted when the stack has backupRecipients (or
  OPS_BACKUP_RECIPIENTS); with --upload also to the stack's bucket (with
  --keep N, only the newest N are kept there; otherwise the host's timer
  prunes to the stack's backupKeep).`,
  "backup-key": `backup-key --out FILE
  A new age key pair for encrypted backups: the identity (the secret half) is
  written to FILE (0600, never overwritten), the recipient printed for
  pulumi config set backupRecipients. Keep FILE offline, not on the host or CI.`,
  backups: `backups [--out DIR]
  The backups in the stack's bucket and in DIR (./backups).`,
  restore: `restore FOLDER|NAME|latest [--replace] [--identity FILE] [--allow-unencrypted]
  A backup folder, or a backup in the bucket by name (latest: the newest): checked whole first,
  decrypted with the age identity in FILE (or OPS_BACKUP_IDENTITY=FILE) when
  encrypted (a damaged, altered or foreign one is refused, nothing touched);
  then, with the API instances stopped, every stream restored and its counts
  and last sequence proven. Streams that hold messages are only replaced with
  --replace. Where the stack has backupRecipients, a backup that is not
  encrypted (one from before) is restored only with --allow-unencrypted.`,
  purge: `purge --confirm [--no-backup] [--out DIR] [--upload]
  Emergency: every message of every stream deleted (all conversations), the
  API stopped meanwhile; a backup is taken first unless --no-backup.`,
  ssh: `ssh [COMMAND...]
  A shell on the host as the deploy user (the system ssh client, trusting
  only the pinned host key).`,
  token: `token --sub USER [--ttl 1h]
  A short-lived JWT signed with the stack's current key (its id in \`kid\`), for smoke tests.`,
  rotate: `rotate jwt|nats|llm [--finish] [--now] [--overlap 24h]
  Replaces a secret with no downtime: the new one is generated here (the LLM
  key is read from standard input), stored in the stack (encrypted), and
  applied by the stack step: NATS reloads live, the API instances restart
  one at a time, each draining its streams. Each step says what it does and
  goes in the host's audit log.
  jwt: the new key signs from now on; the old one is still accepted for
    --overlap (default: the stack's jwtMaxLifetime, 24h), then
    rotate jwt --finish removes it (--now: at once, for a leaked key).
  nats: new NATS users beside the old, the API instances onto them, then the
    old users removed once no client uses them.
  llm: the new provider key, then the API instances onto it; revoke the old
    key at the provider afterwards.`,
  revoke: `revoke USER
  Every token of USER (the \`sub\`) issued up to now is refused by every API
  instance within a second; tokens issued later work. Audited.`,
};

function usage(): string {
  return `Usage: npm run ops -- <command> [options]\n\n${Object.values(HELP)
    .map((h) => `  ${h.replaceAll("\n", "\n  ")}`)
    .join("\n\n")}\n\n${TARGET_HELP}`;
}

async function main(): Promise<number> {
  loadDotenv({ path: join(process.cwd(), ".env"), quiet: true });
  const argv = minimist(process.argv.slice(2), {
    boolean: [
      "local",
      "json",
      "follow",
      "help",
      "upload",
      "replace",
      "confirm",
      "backup",
      "allow-unencrypted",
      "finish",
      "now",
    ],
    string: [
      "local-dir",
      "host",
      "user",
      "port",
      "key",
      "host-key",
      "stack",
      "bundle",
      "since",
      "grep",
      "sub",
      "ttl",
      "tail",
      "out",
      "keep",
      "identity",
      "overlap",
      "for",
      "comment",
      "local-port",
    ],
    default: { backup: true },
    alias: { h: "help" },
  });
  const [command, ...rest] = argv._.map(String);
  if (!command || command === "help") {
    console.log(usage());
    return command ? 0 : 1;
  }
  if (!(command in HELP)) throw new OpsError(`no command "${command}"; npm run ops -- help lists them`);
  if (argv.help) {
    console.log(`npm run ops -- ${HELP[command]}\n\n${TARGET_HELP}`);
    return 0;
  }
  // Needs no server: a key pair made here.
  if (command === "backup-key") return backupKey(argv.out);
  // Bad input is refused before any server is reached.
  const silenceRequest = command === "silence" ? parseSilence(rest, argv.for, argv.comment) : undefined;
  const localPort = command === "dashboard" ? parseLocalPort(argv["local-port"]) : undefined;
  const target = resolveTarget({
    local: argv.local,
    localDir: argv["local-dir"],
    host: argv.host,
    user: argv.user,
    port: argv.port,
    key: argv.key,
    hostKey: argv["host-key"],
    stack: argv.stack,
  });
  const actor = process.env.OPS_ACTOR ?? `${userInfo().username}@${hostname()}`;
  switch (command) {
    case "status":
      return status(target, argv.json);
    case "alerts":
      return alerts(target, argv.json);
    case "silence":
      return silence(target, silenceRequest!, actor);
    case "logs": {
      const service = rest[0] ?? "all";
      if (service !== "all" && !SERVICES.includes(service as Service))
        throw new OpsError(`no service "${service}": use api, nats, caddy or all`);
      const tail = Number(argv.tail ?? 100);
      if (!Number.isInteger(tail) || tail < 1)
        throw new OpsError(`--tail ${argv.tail}: give a number of lines, e.g. 200`);
      return logs(target, {
        service: service as Service | "all",
        follow: argv.follow,
        since: argv.since ?? "",
        tail,
        grep: argv.grep ?? "",
      });
    }
    case "dashboard":
      return dashboard(target, { localPort });
    case "releases":
      return releases(target, argv.json);
    case "deploy": {
      let bundle = argv.bundle;
      if (!bundle) {
        await spinner("building the API bundle", () => $({ cwd: ROOT, quiet: true })`node app/build.mjs`);
        bundle = join(ROOT, "dist/api.cjs");
      }
      return deploy(target, bundle, actor);
    }
    case "rollback":
      return rollback(target, rest[0], actor);
    case "restart": {
      const service = rest[0];
      if (!SERVICES.includes(service as Service)) throw new OpsError("restart what? api, nats or caddy");
      if (service === "caddy" && target.local)
        throw new OpsError("the local stack's Caddy has no systemd unit: run npm run local again to restart it");
      return restart(target, service as Service, actor);
    }
    case "backup":
    case "purge": {
      const keep = argv.keep === undefined ? undefined : Number(argv.keep);
      if (keep !== undefined && (!Number.isInteger(keep) || keep < 1))
        throw new OpsError(`--keep ${argv.keep}: keep at least 1 backup`);
      const options = { out: resolve(argv.out ?? "backups"), upload: argv.upload, keep, actor };
      if (command === "backup") return backup(target, options);
      if (!argv.confirm)
        throw new OpsError(
          `purge deletes every conversation on ${target.description}; run it again with --confirm ` +
            `(a backup is taken first${argv.backup ? "" : ", but you said --no-backup"})`,
        );
      return purge(target, { ...options, skipBackup: !argv.backup });
    }
    case "backups":
      return listBackups(target, resolve(argv.out ?? "backups"));
    case "restore":
      if (!rest[0]) throw new OpsError("restore what? a backup folder, or a backup's name (npm run ops -- backups)");
      return restore(target, rest[0], {
        replaceLive: argv.replace,
        actor,
        identityFile: argv.identity ?? (process.env.OPS_BACKUP_IDENTITY || undefined),
        allowUnencrypted: argv["allow-unencrypted"],
      });
    case "ssh":
      return ssh(target, rest);
    case "token":
      if (!argv.sub) throw new OpsError("token needs --sub USER (the subject the API sees)");
      return token(target, argv.sub, argv.ttl ?? "1h");
    case "rotate": {
      const kind = rest[0];
      if (!SECRET_KINDS.includes(kind as SecretKind)) throw new OpsError("rotate what? jwt, nats or llm");
      if (argv.finish && kind !== "jwt")
        throw new OpsError("--finish ends a JWT rotation's overlap: rotate jwt --finish");
      const overlap = argv.overlap ?? target.jwtMaxLifetime?.() ?? "24h";
      const overlapMs = ms(overlap as ms.StringValue);
      if (!Number.isFinite(overlapMs) || overlapMs <= 0)
        throw new OpsError(`--overlap ${overlap}: give a duration, e.g. 24h (the longest a token lives)`);
      const value = kind === "llm" ? await readKey() : newSecret();
      return rotate(
        target,
        kind as SecretKind,
        { overlapMs, finish: argv.finish, immediately: argv.now, value },
        actor,
      );
    }
    case "revoke":
      if (!rest[0]) throw new OpsError("revoke whom? npm run ops -- revoke USER (the token's sub)");
      return revoke(target, rest[0], actor);
  }
  return 1;
}

/** The new LLM key, from standard input: never on the command line, where shell history and ps keep it. */
async function readKey(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("Paste the new LLM API key, then Enter: ");
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (process.stdin.isTTY && text.includes("\n")) break;
  }
  const key = text.trim();
  if (!key)
    throw new OpsError("rotate llm reads the new key from standard input: npm run ops -- rotate llm < key-file");
  if (!ENV_SAFE.test(key))
    throw new OpsError(
      "the key has characters the host's env file cannot hold (spaces, quotes, $, #): is it the whole key?",
    );
  return key;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // An error may carry a host's or a bucket's words.
    const message = terminalSafe(error instanceof Error ? error.message : String(error));
    console.error(chalk.red(`ops: ${message}`));
    process.exit(1);
  },
);
