// What a pull request's preview runs: `pulumi preview` with the policy pack
// of a throwaway stack built from a committed stack file's plain settings,
// with a made-up value for every secret. A pull request's code runs here, so
// this needs no state bucket, no passphrase and no key of production, and
// cannot reach them: production is previewed only by the protected deploy
// job (.github/workflows/ci.yml).
//   npx tsx scripts/ci/preview-without-secrets.ts [STACK_FILE]   (default: Pulumi.prod.yaml)
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parse } from "yaml";
import { generateKeyPair } from "../backup/encryption.js";

const ROOT = join(import.meta.dirname, "../..");
const PROJECT = "conversational-platform";

export interface ThrowawayConfig {
  /** Plain settings as `config set-all --path` takes them. */
  plain: Record<string, unknown>;
  /** Keys that get a made-up secret value. */
  secretKeys: string[];
}

/**
 * The stack file's plain values, and which keys need a made-up secret: every
 * key the project declares secret, and every value the stack file holds
 * encrypted (a ciphertext this preview cannot and must not decrypt).
 */
export function throwawayConfig(projectFile: string, stackFile: string): ThrowawayConfig {
  const project = parse(projectFile) as { config?: Record<string, { secret?: boolean }> };
  const stack = (parse(stackFile) as { config?: Record<string, unknown> } | null)?.config ?? {};
  const plain: Record<string, unknown> = {};
  const secretKeys = new Set(
    Object.entries(project.config ?? {})
      .filter(([, declared]) => declared.secret === true)
      .map(([key]) => key),
  );
  for (const [fullKey, value] of Object.entries(stack)) {
    const [namespace, key] = fullKey.includes(":") ? fullKey.split(":", 2) : [PROJECT, fullKey];
    if (namespace !== PROJECT || !key) continue;
    if (isEncrypted(value)) secretKeys.add(key);
    else plain[key] = value;
  }
  for (const key of secretKeys) delete plain[key];
  return { plain, secretKeys: [...secretKeys].sort() };
}

const isEncrypted = (value: unknown) => typeof value === "object" && value !== null && "secure" in value;

/** `config set-all` arguments: lists element by element, secrets made up here. */
export function setAllArguments(config: ThrowawayConfig, secret: (key: string) => string): string[] {
  const plain = Object.entries(config.plain).flatMap(([key, value]) =>
    Array.isArray(value)
      ? value.map((item, i) => ["--plaintext", `${key}[${i}]=${String(item)}`])
      : [["--plaintext", `${key}=${String(value)}`]],
  );
  const secrets = config.secretKeys.map((key) => ["--secret", `${key}=${secret(key)}`]);
  return ["config", "set-all", "--path", ...plain.flat(), ...secrets.flat()];
}

async function main(stackFile: string): Promise<number> {
  const stackPath = resolve(ROOT, stackFile);
  if (!existsSync(stackPath)) {
    console.error(`${stackFile} does not exist: name a committed stack file (e.g. Pulumi.prod.yaml).`);
    return 1;
  }
  const config = throwawayConfig(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8"), readFileSync(stackPath, "utf8"));
  const scratch = mkdtempSync(join(tmpdir(), "pr-preview-"));
  const throwaway = `pr-preview-${randomBytes(4).toString("hex")}`;
  const configFile = join(scratch, `Pulumi.${throwaway}.yaml`);
  const env = {
    ...process.env,
    PULUMI_BACKEND_URL: `file://${scratch}/state`,
    PULUMI_HOME: join(scratch, "home"),
    // Protects made-up values only; it is no secret.
    PULUMI_CONFIG_PASSPHRASE: "pull-request-preview",
    PULUMI_CONFIG_PASSPHRASE_FILE: "",
    VULTR_API_KEY: "a-preview-never-calls-the-vultr-api",
  };
  const pulumi = (args: string[]) =>
    spawnSync("bash", [join(ROOT, "scripts/pulumi.sh"), ...args], { env, stdio: "inherit", cwd: ROOT }).status ?? 1;
  try {
    mkdirSync(join(scratch, "state"));
    if (pulumi(["stack", "init", throwaway, "--no-select"]) !== 0) return 1;
    // `stack init` writes the stack's file into the project; it belongs in the scratch folder.
    renameSync(join(ROOT, `Pulumi.${throwaway}.yaml`), configFile);
    const keys = deployKeyPair(scratch);
    // Values the program checks the shape of are made in that shape.
    const backupKey = await generateKeyPair();
    const madeUp: Record<string, string> = { sshPrivateKey: keys.privateKey, backupRecipients: backupKey.recipient };
    const secret = (key: string) => madeUp[key] ?? `made-up-${randomBytes(24).toString("hex")}`;
    if (config.secretKeys.includes("sshPrivateKey")) config.plain.sshPublicKey = keys.publicKey;
    const scoped = ["--stack", throwaway, "--config-file", configFile];
    if (pulumi([...setAllArguments(config, secret), ...scoped]) !== 0) return 1;
    console.log(
      `Preview of a throwaway stack with ${basename(stackPath)}'s plain settings and made-up secrets ` +
        `(${config.secretKeys.join(", ")}): no production state or secret is read here.`,
    );
    return pulumi(["preview", "--diff", "--policy-pack", "dist/policy-pack", ...scoped]);
  } finally {
    rmSync(join(ROOT, `Pulumi.${throwaway}.yaml`), { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The program checks that the deploy key pair matches: a fresh pair, thrown away with the stack. */
function deployKeyPair(dir: string): { publicKey: string; privateKey: string } {
  const path = join(dir, "deploy-key");
  const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pr-preview", "-f", path]);
  if (made.status !== 0) throw new Error(`ssh-keygen failed: ${made.stderr?.toString()}`);
  return { publicKey: readFileSync(`${path}.pub`, "utf8").trim(), privateKey: readFileSync(path, "utf8") };
}

if (process.argv[1] && import.meta.filename === process.argv[1])
  process.exit(await main(process.argv[2] ?? "Pulumi.prod.yaml"));
