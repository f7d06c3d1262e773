// The production stack on this machine: the same compose file, NATS config,
// .env template, API bundle and Caddyfile, installed by the same release and
// stack steps a deploy runs on the host (infra/host/steps.ts), with Caddy on
// localhost and an internal certificate instead of Let's Encrypt.
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { runStep } from "../../infra/host/runner/run.js";
import {
  releaseId,
  releaseStep,
  stackStep,
  type HostPaths,
  type HostStep,
  type StackSettings,
} from "../../infra/host/steps.js";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { newSecret } from "../ops/new-secret.js";
import { ROOT } from "../project-root.js";
import { caddyBinary } from "../setup/tools.js";
import { ensureDockerEngine } from "./docker-engine.js";
import { CADDYFILE, localCaCertificate, loopbackCaddyEnv } from "./caddy-env.js";
import { buildLocalImages } from "./images.js";

export interface LocalStackOptions {
  /** Everything the local stack writes lives here. */
  dir: string;
  natsServer: string;
  httpsPort: number;
  httpPort: number;
  adminPort: number;
  /** Extra API settings, e.g. a provider base URL for tests. */
  llm?: Pick<StackSettings, "llmProvider" | "llmApiKey" | "apiSettings">;
  log?: (line: string) => void;
}

export interface LocalStack {
  url: string;
  jwtSecret: string;
  caCertificate: string;
  compose(...args: string[]): string;
  /** Deploys this bundle as a new release; resolves to its id. */
  deploy(bundle: Buffer): Promise<string>;
}

const COMPOSE_FILE = "docker-compose.prod.yml";

/** Where a local stack describes itself, in its folder. */
export const LOCAL_STACK_FILE = "local-stack.json";
/** Where the local stack keeps the settings it deployed, secrets included (0600): what `ops rotate --local` changes. */
export const LOCAL_STACK_SETTINGS = "stack-settings.json";

export interface LocalStackFile {
  appDir: string;
  dataDir: string;
  apiHost: string;
  httpsPort: number;
  /** Caddy's storage: its local CA and certificates. */
  caddyData: string;
  accessLog: string;
}

export async function localStackUp(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? console.log;
  const paths: HostPaths = { appDir: join(options.dir, "app"), dataDir: join(options.dir, "data") };
  const bundlePath = join(ROOT, "dist/api.cjs");
  if (!existsSync(bundlePath)) throw new Error(`${bundlePath} is missing: run npm run build`);
  await ensureDockerEngine(log);
  log("building local images from Node 24 and this machine's nats-server (no registry is needed)");
  const images = buildLocalImages(options.natsServer);

  // What the bootstrap prepares on a host.
  mkdirSync(join(paths.appDir, "releases"), { recursive: true });
  mkdirSync(join(paths.dataDir, "nats"), { recursive: true });
  chownSync(join(paths.dataDir, "nats"), 10001, 10001);

  const secrets = loadOrCreateSecrets(join(options.dir, "secrets.json"));
  // A rotation (npm run ops -- rotate --local) left its secrets here.
  const settingsFile = join(options.dir, LOCAL_STACK_SETTINGS);
  const rotated = existsSync(settingsFile)
    ? (JSON.parse(readFileSync(settingsFile, "utf8")) as StackSettings)
    : undefined;
  const llm = options.llm ?? defaultLlm();
  const stack: StackSettings = {
    apiImage: images.apiImage,
    natsImage: images.natsImage,
    natsToken: rotated?.natsToken ?? secrets.natsToken,
    natsPreviousToken: rotated?.natsPreviousToken,
    jwtSecret: rotated?.jwtSecret ?? secrets.jwtSecret,
    jwtPreviousSecret: rotated?.jwtPreviousSecret,
    ...llm,
    // A local run is one person testing: a roomy limit.
    apiSettings: { RATE_LIMIT_REQUESTS: "600", ...llm.apiSettings },
  };
  refuseAnotherCopy(paths.appDir);
  writeFileSync(settingsFile, JSON.stringify(stack), { mode: 0o600 });
  // A deploy, as `pulumi up` runs it on a host: the release step, then the
  // stack step (NATS, then one API instance at a time).
  const here = new LocalTransport();
  const run = async (step: HostStep) => {
    const output = await runStep(here, step);
    for (const line of output.trim().split("\n").filter(Boolean)) log(`  ${line}`);
  };
  const deploy = async (bundle: Buffer) => {
    // The release step uploads from a file: this bundle may not be the one in dist/.
    const staged = join(options.dir, "upload.cjs");
    writeFileSync(staged, bundle);
    await run(releaseStep(loadTemplates(), bundle, staged, stack.apiImage, paths));
    await run(stackStep(loadTemplates(), stack, releaseId(bundle), paths, "npm run local"));
    return releaseId(bundle);
  };
  await deploy(readFileSync(bundlePath));

  startCaddy(options, log);
  // What the ops commands need to target this stack (npm run ops -- status --local).
  const local: LocalStackFile = {
    appDir: paths.appDir,
    dataDir: paths.dataDir,
    apiHost: "localhost",
    httpsPort: options.httpsPort,
    caddyData: join(options.dir, "caddy"),
    accessLog: join(options.dir, "access.log"),
  };
  writeFileSync(join(options.dir, LOCAL_STACK_FILE), `${JSON.stringify(local, null, 2)}\n`);
  const caCertificate = localCaCertificate(join(options.dir, "caddy"));
  await waitFor(
    () =>
      existsSync(caCertificate) &&
      /certificate obtained successfully/.test(readFileSync(join(options.dir, "caddy.log"), "utf8")),
    "Caddy's local certificate",
  );
  return {
    url: `https://localhost:${options.httpsPort}`,
    jwtSecret: stack.jwtSecret,
    caCertificate,
    compose: (...args) => compose(paths.appDir, args),
    deploy,
  };
}

export function localStackDown(dir: string, log: (line: string) => void = console.log): void {
  const appDir = join(dir, "app");
  if (existsSync(join(appDir, COMPOSE_FILE))) {
    refuseAnotherCopy(appDir);
    compose(appDir, ["down", "--remove-orphans"], "inherit");
  }
  stopCaddy(dir);
  rmSync(dir, { recursive: true, force: true });
  log(`removed the local stack and ${dir}`);
}

function compose(appDir: string, args: string[], stdio: "pipe" | "inherit" = "pipe"): string {
  // As platform_compose does on a host: the release in service is in its own file.
  const current = join(appDir, "current-release");
  const release = existsSync(current) ? readFileSync(current, "utf8").trim() : "";
  const output = execFileSync(
    "docker",
    ["compose", "--project-directory", appDir, "-f", join(appDir, COMPOSE_FILE), ...args],
    {
      encoding: "utf8",
      stdio: ["ignore", stdio, "inherit"],
      env: { ...process.env, ...(release ? { API_RELEASE: `releases/${release}` } : {}) },
    },
  );
  return output ?? "";
}

/**
 * The compose file names its project, so `npm run local` and the stack test
 * share one: a `down` from one would remove the other's containers, and an
 * `up` would fight over the same loopback ports and subnet. Refuse instead.
 */
function refuseAnotherCopy(appDir: string): void {
  const project = (parse(loadTemplates().compose) as { name: string }).name;
  const dirs = execFileSync(
    "docker",
    [
      "ps",
      "--all",
      "--filter",
      `label=com.docker.compose.project=${project}`,
      "--format",
      '{{.Label "com.docker.compose.project.working_dir"}}',
    ],
    { encoding: "utf8" },
  );
  const others = [...new Set(dirs.split("\n").filter((d) => d !== "" && d !== appDir))];
  if (others.length > 0)
    throw new Error(
      `another copy of the stack is running from ${others.join(", ")}: it has the same project name ` +
        `(${project}), ports (127.0.0.1:8081, 8082, 8222, 4222) and subnet. Remove it first ` +
        `(npm run local -- --down for npm run local's), then run this again.`,
    );
}

async function waitFor(ready: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function startCaddy(options: LocalStackOptions, log: (line: string) => void) {
  const caddyDir = join(options.dir, "caddy");
  mkdirSync(caddyDir, { recursive: true });
  stopCaddy(options.dir);
  const out = openSync(join(options.dir, "caddy.log"), "a");
  const caddy = spawn(caddyBinary(), ["run", "--config", CADDYFILE, "--adapter", "caddyfile"], {
    detached: true,
    stdio: ["ignore", out, out],
    env: loopbackCaddyEnv({
      host: "localhost",
      upstreams: ["127.0.0.1:8081", "127.0.0.1:8082"],
      adminPort: options.adminPort,
      httpPort: options.httpPort,
      httpsPort: options.httpsPort,
      dataDir: caddyDir,
      accessLog: join(options.dir, "access.log"),
    }),
  });
  caddy.unref();
  writeFileSync(join(options.dir, "caddy.pid"), String(caddy.pid));
  log(`Caddy on https://localhost:${options.httpsPort} (log: ${join(options.dir, "caddy.log")})`);
}

/** Stops the Caddy a previous run left, if its pid file names one. */
function stopCaddy(dir: string): void {
  const pidFile = join(dir, "caddy.pid");
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
  } catch {
    // already gone
  }
}

function defaultLlm(): Pick<StackSettings, "llmProvider" | "llmApiKey" | "apiSettings"> {
  if (process.env.ANTHROPIC_API_KEY)
    return { llmProvider: "anthropic", llmApiKey: process.env.ANTHROPIC_API_KEY, apiSettings: {} };
  if (process.env.OPENAI_API_KEY)
    return {
      llmProvider: "openai",
      llmApiKey: process.env.OPENAI_API_KEY,
      apiSettings: process.env.OPENAI_BASE_URL ? { OPENAI_BASE_URL: process.env.OPENAI_BASE_URL } : {},
    };
  return { llmProvider: "mock", llmApiKey: "", apiSettings: {} };
}

/** The local stack's first secrets, made as `npm run ops -- rotate` makes new ones (scripts/ops/new-secret.ts). */
function loadOrCreateSecrets(path: string): { natsToken: string; jwtSecret: string } {
  if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as { natsToken: string; jwtSecret: string };
  const secrets = { natsToken: newSecret(), jwtSecret: newSecret() };
  writeFileSync(path, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}
