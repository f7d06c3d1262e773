// The real Pulumi engine (built by scripts/setup/build-engine.sh), driven
// the way a user drives it: through `npm run pulumi`'s script, with a stack
// of its own in a file backend and a PULUMI_HOME under a scratch folder;
// `up` and `preview` of the production program with its policy pack, as
// `npm run up` runs them.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { POLICY_PACK_DIR } from "../../infra/policies/pack-required.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const ROOT = join(import.meta.dirname, "../..");
const PULUMI = join(ROOT, "scripts/pulumi.sh");
/** The production program's policy pack, as `npm run build` makes it. */
export const POLICY_PACK = join(ROOT, POLICY_PACK_DIR);
/** The commands that run the program and take --policy-pack. */
const runsProgram = new Set(["up", "preview"]);
export const PASSPHRASE = "engine-test-passphrase";

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time in milliseconds. */
  ms: number;
}

export interface EngineStack {
  /** The stack's name: the test's name and a random suffix. */
  name: string;
  /** Where state, PULUMI_HOME and logs live. */
  dir: string;
  /** The environment that points the CLI at this stack's backend. */
  env: NodeJS.ProcessEnv;
  /** `pulumi <args> --stack <name>` in the project folder. */
  run(args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CommandResult>;
  /** Like run, but throws with the whole output unless the command succeeds. */
  ok(args: string[], options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CommandResult>;
  remove(): Promise<void>;
}

export interface StackOptions {
  name: string;
  /** The Pulumi project's folder. @default the repository (the production program) */
  projectDir?: string;
  /** Plain config; arrays are set element by element with --path. */
  config: Record<string, string | string[]>;
  secrets: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

export async function createStack(options: StackOptions): Promise<EngineStack> {
  const scratch = scratchDir(`pulumi-${options.name}`);
  mkdirSync(join(scratch.path, "state"));
  const projectDir = options.projectDir ?? ROOT;
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PULUMI_BACKEND_URL: `file://${scratch.path}/state`,
    PULUMI_HOME: join(scratch.path, "home"),
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    ...options.env,
  };
  // The stack's config file lives in the scratch folder: a test must never
  // write Pulumi.<stack>.yaml into the project (Pulumi.prod.yaml is the
  // example users copy).
  const stackName = `${options.name}-${randomBytes(4).toString("hex")}`;
  const configFile = join(scratch.path, `Pulumi.${stackName}.yaml`);
  // Only the commands that read config take --config-file (`stack output` refuses it).
  const readsConfig = new Set(["up", "preview", "refresh", "destroy", "config"]);
  const scoped = (command: string) => [
    "--cwd",
    projectDir,
    "--stack",
    stackName,
    ...(readsConfig.has(command) ? ["--config-file", configFile] : []),
  ];
  // The production program refuses to run without its policy pack
  // (infra/policies/pack-required.ts), as npm run up passes it.
  const withPack = (args: string[]) =>
    projectDir === ROOT && runsProgram.has(args[0]!) && !args.some((a) => a.startsWith("--policy-pack"))
      ? [...args, "--policy-pack", POLICY_PACK]
      : args;
  const run: EngineStack["run"] = (args, runOptions = {}) =>
    command([...withPack(args), ...scoped(args[0]!)], { ...baseEnv, ...runOptions.env }, runOptions.timeoutMs);
  const ok: EngineStack["ok"] = async (args, runOptions) => {
    const result = await run(args, runOptions);
    if (result.code !== 0)
      throw new Error(`pulumi ${args.join(" ")} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
    return result;
  };
  // `stack init` takes no --config-file: it writes the encryption salt into
  // the project folder, under a name no real stack has, and it moves here.
  const init = await command(["stack", "init", stackName, "--no-select", "--cwd", projectDir], baseEnv);
  if (init.code !== 0) throw new Error(`pulumi stack init: ${init.stdout}${init.stderr}`);
  renameSync(join(projectDir, `Pulumi.${stackName}.yaml`), configFile);
  const plain = Object.entries(options.config).flatMap(([key, value]) =>
    Array.isArray(value)
      ? value.map((v, i) => ["--plaintext", `${key}[${i}]=${v}`])
      : [["--plaintext", `${key}=${value}`]],
  );
  const secret = Object.entries(options.secrets).map(([key, value]) => ["--secret", `${key}=${value}`]);
  await ok(["config", "set-all", "--path", ...plain.flat(), ...secret.flat()]);
  return {
    name: stackName,
    dir: scratch.path,
    env: baseEnv,
    run,
    ok,
    async remove() {
      scratch.remove();
    },
  };
}

function command(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 600_000): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [PULUMI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
  op: string;
  urn: string;
  newState?: {
    type: string;
    inputs: Record<string, any>;
    parent?: string;
    dependencies?: string[];
    protect?: boolean;
  };
}

export interface PreviewJson {
  steps: PreviewStep[];
  diagnostics?: { message: string; severity: string; urn?: string }[];
  policies?: unknown;
}

/** The resource's name, the last part of its URN. */
export const urnName = (urn: string) => urn.split("::").at(-1)!;
