// Everything `pulumi up` does on the host, as plain data: an ordered list of
// steps, each a shell script fed to `bash -s` over SSH. The Pulumi component,
// the ops scripts and the tests all run these same steps. Each step installs
// a file only after validating it on the host, and only if it changed.
import { createHash } from "node:crypto";
import { renderEnvFile } from "./render.js";
import { BOOTSTRAP_FILES, type Templates } from "./templates.js";

/** Where the stack lives on a host; `npm run local` uses directories of its own. */
export interface HostPaths {
  appDir: string;
  dataDir: string;
}
export const PRODUCTION_PATHS: HostPaths = {
  appDir: "/opt/conversational-platform",
  dataDir: "/var/lib/platform-data",
};
/** Releases kept on the host for a rollback, besides the current one. */
export const RELEASES_KEPT = 5;

export interface HostSettings {
  deployUser: string;
  deploySshKey: string;
  adminCidrs: string[];
  apiHost: string;
  acmeEmail: string;
  /** "official": Docker's and Caddy's own apt repositories; "distro": the OS's packages. */
  packageSource: "official" | "distro";
  /** "letsencrypt", or "internal": Caddy's own CA, for a host the internet cannot reach. */
  tlsIssuer: "letsencrypt" | "internal";
}

export interface StackSettings {
  apiImage: string;
  natsImage: string;
  natsToken: string;
  jwtSecret: string;
  llmProvider: "anthropic" | "openai" | "mock";
  llmApiKey: string;
  openaiBaseUrl: string;
  logLevel: string;
  rateLimitRequests: number;
  rateLimitWindow: string;
}

export type StepName = "wait" | "bootstrap" | "caddy" | "release" | "stack" | "verify";

export interface HostStep {
  name: StepName;
  description: string;
  /** Runs on the host as the deploy user; the script arrives on stdin. */
  command: string;
  script: string;
  /** The script holds secrets: it must travel only as a secret. */
  secret: boolean;
  /** Changes exactly when the script does: the step's re-run trigger. */
  hash: string;
  /** A file to copy to the host before the script runs. */
  upload?: { localPath: string; remotePath: string };
  /**
   * Later steps need a new SSH session: this one changed what a login gets
   * (the deploy user's groups, sshd's settings).
   */
  endsSession?: boolean;
  /** Run again on the next deploy while the last output starts with this (a state still pending). */
  rerunWhileOutputStarts?: string;
  /** A check of what the steps before it did: runs again whenever one of them does. */
  checksEarlierSteps?: boolean;
}

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The id of a release: the start of its bundle's hash. */
export function releaseId(bundle: Buffer): string {
  return sha256(bundle).slice(0, 12);
}

const PRELUDE = `set -euo pipefail
changed=0
# put DEST MODE OWNER:GROUP BASE64 [VALIDATE...]: install a file if it differs,
# after VALIDATE (given the new file's path) accepts it.
put() {
  local dest=$1 mode=$2 owner=$3 data=$4
  shift 4
  local tmp
  tmp=$(mktemp)
  printf '%s' "$data" | base64 -d >"$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    return 0
  fi
  if [ $# -gt 0 ] && ! "$@" "$tmp"; then
    rm -f "$tmp"
    echo "$dest: the new version does not validate; the live file was left as it is" >&2
    exit 1
  fi
  install -D -m "$mode" -o "\${owner%%:*}" -g "\${owner##*:}" "$tmp" "$dest"
  rm -f "$tmp"
  echo "installed $dest"
  changed=1
}
`;

const b64 = (text: string) => Buffer.from(text).toString("base64");
const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

function step(name: StepName, description: string, command: string, script: string, secret = false): HostStep {
  return { name, description, command, script, secret, hash: sha256(script) };
}

export function waitStep(): HostStep {
  return step(
    "wait",
    "Wait for SSH and for cloud-init to finish",
    "bash -s",
    `${PRELUDE}
# cloud-init creates the deploy user and is still installing packages when
# SSH first answers; apt would fail under it.
if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null || true; fi
echo "host ready: $(uname -n)"
`,
  );
}

export function bootstrapStep(templates: Templates, host: HostSettings): HostStep {
  return { ...bootstrapScript(templates, host), endsSession: true };
}

function bootstrapScript(templates: Templates, host: HostSettings): HostStep {
  const files = BOOTSTRAP_FILES.map(
    (f) =>
      `mkdir -p "$dir/$(dirname ${q(f)})"\nprintf '%s' ${q(b64(templates.bootstrap[f]))} | base64 -d >"$dir/"${q(f)}`,
  ).join("\n");
  return step(
    "bootstrap",
    "Harden the host and install Docker, Compose and Caddy (bootstrap.sh)",
    "sudo bash -s",
    `${PRELUDE}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
${files}
DEPLOY_USER=${q(host.deployUser)} DEPLOY_SSH_KEY=${q(host.deploySshKey)} ADMIN_CIDRS=${q(host.adminCidrs.join(" "))} \\
  PLATFORM_DATA_DIR=${q(PRODUCTION_PATHS.dataDir)} PACKAGE_SOURCE=${q(host.packageSource)} bash "$dir/bootstrap.sh"
`,
  );
}

export function caddyStep(templates: Templates, host: HostSettings): HostStep {
  const env = renderEnvFile("host/caddy/platform.env", templates.caddyEnv, {
    ACME_EMAIL: host.acmeEmail,
    API_HOST: host.apiHost,
    CADDY_GLOBAL_OPTIONS: host.tlsIssuer === "internal" ? "local_certs" : "",
  });
  return step(
    "caddy",
    "Install the Caddyfile and its environment, then reload Caddy",
    "sudo bash -s",
    `${PRELUDE}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
printf '%s' ${q(b64(templates.caddyfile))} | base64 -d >"$stage/Caddyfile"
printf '%s' ${q(b64(env))} | base64 -d >"$stage/platform.env"
# Validate the pair as Caddy will load it: the Caddyfile with the new values,
# read as systemd's EnvironmentFile= reads them (the rest of the line is the
# value, spaces included; a shell would run "a=b c" as the command c).
load_env() {
  local line
  while IFS= read -r line; do
    case $line in '' | '#'*) continue ;; esac
    export "\${line%%=*}=\${line#*=}"
  done <"$1"
}
if ! (load_env "$stage/platform.env" && caddy validate --config "$stage/Caddyfile" --adapter caddyfile); then
  echo "the new Caddyfile does not validate; Caddy keeps running the old one" >&2
  exit 1
fi
# Access logs hold client addresses: caddy writes them, admins (adm) read them.
install -d -m 0750 -o caddy -g adm /var/log/caddy
put /etc/systemd/system/caddy.service.d/platform.conf 0644 root:root ${q(b64(templates.caddyDropIn))}
dropin_changed=$changed
put /etc/caddy/platform.env 0640 root:caddy "$(base64 -w0 "$stage/platform.env")"
put /etc/caddy/Caddyfile 0644 root:root "$(base64 -w0 "$stage/Caddyfile")"
if [ "$dropin_changed" -eq 1 ]; then systemctl daemon-reload; fi
systemctl enable caddy >/dev/null 2>&1
if ! systemctl is-active --quiet caddy; then
  systemctl start caddy
elif [ "$changed" -eq 1 ]; then
  # A reload keeps open connections (and their event streams) alive.
  systemctl reload caddy
fi
echo "caddy: $(systemctl is-active caddy)"
`,
  );
}

export function releaseStep(
  bundle: Buffer,
  bundlePath: string,
  stack: StackSettings,
  paths = PRODUCTION_PATHS,
): HostStep {
  const id = releaseId(bundle);
  const upload = `${paths.appDir}/releases/upload-${id}.cjs`;
  return {
    ...step(
      "release",
      `Install release ${id} of the API bundle, keeping the last ${RELEASES_KEPT} for rollback`,
      "bash -s",
      `${PRELUDE}
cd ${q(paths.appDir)}/releases
if [ ! -f ${id}/api.cjs ]; then
  # The bundle must at least parse in the image that will run it.
  docker run --rm --network none -v "$PWD/upload-${id}.cjs:/app/api.cjs:ro" ${q(stack.apiImage)} node --check /app/api.cjs
  mkdir -p ${id}
  mv upload-${id}.cjs ${id}/api.cjs
  chmod 0644 ${id}/api.cjs
  echo "release ${id} installed"
fi
rm -f upload-*.cjs
current=$(sed -n 's|^API_RELEASE=releases/||p' ../.env 2>/dev/null || true)
# Keep the newest ${RELEASES_KEPT} others for a rollback; grep finds none on a first deploy.
# shellcheck disable=SC2010 # release names are hex ids; ls -t sorts them by age
{ ls -1t | grep -vx -e ${id} -e "\${current:-none}" || true; } | tail -n +${RELEASES_KEPT + 1} | xargs -r rm -rf --
`,
    ),
    upload: { localPath: bundlePath, remotePath: upload },
  };
}

export function stackStep(
  templates: Templates,
  stack: StackSettings,
  release: string,
  paths = PRODUCTION_PATHS,
): HostStep {
  const app = q(paths.appDir);
  const env = renderEnvFile("stack/stack.env", templates.stackEnv, {
    API_RELEASE: `releases/${release}`,
    API_IMAGE: stack.apiImage,
    NATS_IMAGE: stack.natsImage,
    PLATFORM_DATA_DIR: paths.dataDir,
    NATS_TOKEN: stack.natsToken,
    JWT_SECRET: stack.jwtSecret,
    LLM_PROVIDER: stack.llmProvider,
    ANTHROPIC_API_KEY: stack.llmProvider === "anthropic" ? stack.llmApiKey : "",
    OPENAI_API_KEY: stack.llmProvider === "openai" ? stack.llmApiKey : "",
    OPENAI_BASE_URL: stack.openaiBaseUrl,
    LOG_LEVEL: stack.logLevel,
    RATE_LIMIT_REQUESTS: String(stack.rateLimitRequests),
    RATE_LIMIT_WINDOW: stack.rateLimitWindow,
  });
  return step(
    "stack",
    "Install the compose stack, NATS config and .env; bring NATS up, then restart the API instances one at a time",
    "sudo bash -s",
    `${PRELUDE}
cd ${app}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
printf '%s' ${q(b64(templates.compose))} | base64 -d >"$stage/docker-compose.prod.yml"
printf '%s' ${q(b64(templates.natsConf))} | base64 -d >"$stage/nats-server.conf"
printf '%s' ${q(b64(env))} | base64 -d >"$stage/.env"
docker compose --project-directory ${app} -f "$stage/docker-compose.prod.yml" --env-file "$stage/.env" config -q
docker run --rm --network none -e NATS_TOKEN=validation-only -v "$stage/nats-server.conf:/c.conf:ro" ${q(stack.natsImage)} -c /c.conf -t
owner=$(stat -c %U:%G ${app})
put ${app}/docker-compose.prod.yml 0644 "$owner" "$(base64 -w0 "$stage/docker-compose.prod.yml")"
put ${app}/nats-server.conf 0644 "$owner" "$(base64 -w0 "$stage/nats-server.conf")"
put ${app}/.env 0600 "$owner" "$(base64 -w0 "$stage/.env")"
compose() { docker compose --project-directory ${app} -f ${app}/docker-compose.prod.yml "$@"; }
compose up -d --wait nats
# One instance at a time: Caddy sends traffic to the other while this one
# drains its streams and comes back healthy.
for api in api-1 api-2; do
  compose up -d --no-deps --wait "$api"
done
compose ps --format '{{.Name}} {{.Status}}'
`,
    true,
  );
}

/** Where Caddy (run as the caddy user, HOME /var/lib/caddy) keeps its internal CA's root. */
export const CADDY_LOCAL_ROOT = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt";

/** How the verify step's output starts while Let's Encrypt cannot issue yet. */
export const CERTIFICATE_PENDING = "certificate pending";

/**
 * The API instances, then the API through Caddy and TLS on this host. With
 * Let's Encrypt the certificate can only come once the API's name points at
 * the server: when a short try through Caddy fails and the name does not
 * resolve to an address of this host, the step says so and succeeds, instead
 * of waiting for an issuance that cannot happen (a new zone is not delegated
 * yet). It runs again on the next deploy until the certificate is there, and
 * after any earlier step ran (`rerunWhileOutputStarts`, `checksEarlierSteps`).
 * A host behind NAT, whose public address is on no interface, passes by the
 * try through Caddy once its certificate exists.
 */
export function verifyStep(host: HostSettings): HostStep {
  const url = `https://${host.apiHost}/health`;
  const resolve = `${host.apiHost}:443:127.0.0.1`;
  const tls =
    host.tlsIssuer === "internal"
      ? `through_caddy 30 --cacert ${CADDY_LOCAL_ROOT}`
      : `if through_caddy 3 --no-ca-option 2>/dev/null; then exit 0; fi
# getent fails for a name that does not resolve: that is the case to report.
resolved=$({ getent ahostsv4 ${q(host.apiHost)} || true; } | awk 'NR == 1 { print $1 }')
if [ -z "$resolved" ] || ! ip -4 -o addr show | awk '{ sub("/.*", "", $4); print $4 }' | grep -qxF "$resolved"; then
  echo "${CERTIFICATE_PENDING}: ${host.apiHost} resolves to \${resolved:-nothing} here, not to an address of this server."
  echo "Let's Encrypt issues it once DNS points here (a new Vultr zone needs your registrar's name servers set to ns1.vultr.com and ns2.vultr.com); Caddy keeps trying by itself, and the next deploy checks again."
  echo "$health"
  exit 0
fi
through_caddy 30 --no-ca-option`;
  return {
    ...step(
      "verify",
      `Check the API instances, then https://${host.apiHost}/health through Caddy on the host`,
      "sudo bash -s",
      `${PRELUDE}
for port in 8081 8082; do
  if ! curl -fsS --retry 10 --retry-delay 2 --retry-all-errors --max-time 5 "http://127.0.0.1:$port/health" >/dev/null; then
    echo "the API instance on 127.0.0.1:$port is not healthy:" >&2
    docker ps --all --format '{{.Names}} {{.Status}}' >&2
    exit 1
  fi
done
health=$(curl -fsS --max-time 5 http://127.0.0.1:8081/health)
# Through Caddy and TLS on this host, whatever DNS says elsewhere; a first
# certificate can take a minute.
# through_caddy TRIES TRUST...: TRUST is --cacert FILE, or --no-ca-option for the system's CAs.
through_caddy() {
  local tries=$1 trust=()
  shift
  [ "$1" = --no-ca-option ] || trust=("$@")
  # "&& echo": the function's status must be curl's, also where it is a condition.
  curl -fsS --retry "$tries" --retry-delay 5 --retry-all-errors --max-time 10 --resolve ${q(resolve)} "\${trust[@]}" ${q(url)} && echo
}
${tls}
`,
    ),
    rerunWhileOutputStarts: CERTIFICATE_PENDING,
    checksEarlierSteps: true,
  };
}

/** All steps, in the order they run. */
export function hostSteps(
  templates: Templates,
  host: HostSettings,
  stack: StackSettings,
  bundle: Buffer,
  bundlePath: string,
): HostStep[] {
  return [
    waitStep(),
    bootstrapStep(templates, host),
    caddyStep(templates, host),
    releaseStep(bundle, bundlePath, stack),
    stackStep(templates, stack, releaseId(bundle)),
    verifyStep(host),
  ];
}
