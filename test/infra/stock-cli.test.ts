// One state and one policy pack, whichever way Pulumi is started. A copy of
// the project gets its stack the documented way (npm run stack:init, config,
// npm run preview); then the engine's `pulumi` binary is run the way a CLI
// installed from pulumi.com runs: no npm script, no scripts/pulumi.sh, an
// environment of only PATH, HOME and the passphrase. It must find the same
// stack in the project's .pulumi-state/ (Pulumi.yaml's backend), and its
// `up` must stop before any resource, naming npm run up, because it cannot
// load the policy pack (infra/policies/pack-required.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAllArguments } from "../../scripts/ci/preview-without-secrets.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import { REALISTIC_CONFIG, REALISTIC_SECRETS } from "../harness/stack-configs.js";

const ROOT = join(import.meta.dirname, "../..");
const PASSPHRASE = "stock-cli-test-passphrase";
const STATE = ".pulumi-state/.pulumi/stacks/conversational-platform/prod.json";

const scratch = scratchDir("stock-cli");
const project = join(scratch.path, "project");
const home = join(scratch.path, "home");
let engine: string;

interface Result {
  code: number | null;
  stdout: string;
  /** stdout and stderr. */
  output: string;
}

function result(run: ReturnType<typeof spawnSync>): Result {
  if (run.error) throw run.error;
  return { code: run.status, stdout: String(run.stdout), output: `${String(run.stdout)}\n${String(run.stderr)}` };
}

/** The CLI binary alone, as a stock install runs it. */
function stock(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Result {
  const env = {
    PATH: [engine, dirname(process.execPath), "/usr/bin", "/bin"].join(":"),
    HOME: home,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    ...options.env,
  };
  return result(
    spawnSync(join(engine, "pulumi"), args, { cwd: options.cwd ?? project, env, encoding: "utf8", timeout: 600_000 }),
  );
}

/** An npm script of the copy, as a user runs it there (no PULUMI_* but the passphrase). */
function npm(args: string[], env: NodeJS.ProcessEnv = {}): Result {
  const base = {
    PATH: process.env.PATH,
    HOME: home,
    // The engine the test run built, not a second build under this HOME.
    PLATFORM_CACHE_DIR: process.env.PLATFORM_CACHE_DIR ?? join(homedir(), ".cache/conversational-platform"),
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    VULTR_API_KEY: "dummy-key-a-preview-never-uses",
  };
  return result(
    spawnSync("npm", ["run", "-s", ...args], {
      cwd: project,
      env: { ...base, ...env },
      encoding: "utf8",
      timeout: 600_000,
    }),
  );
}

function ok(run: Result): Result {
  if (run.code !== 0) throw new Error(`exited with ${run.code}:\n${run.output}`);
  return run;
}

/** The repository's files (committed or not, never ignored ones such as .pulumi-state/ and dist/), but no stack file. */
function copyProject(): void {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT });
  for (const file of listed.toString().split("\0")) {
    if (file === "" || file === "Pulumi.prod.yaml" || !existsSync(join(ROOT, file))) continue;
    if (lstatSync(join(ROOT, file)).isDirectory()) continue;
    mkdirSync(dirname(join(project, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(project, file));
  }
  symlinkSync(join(ROOT, "node_modules"), join(project, "node_modules"));
}

beforeAll(() => {
  engine = execFileSync("bash", [join(ROOT, "scripts/setup/build-engine.sh")], { encoding: "utf8" })
    .trim()
    .split("\n")
    .at(-1)!;
  mkdirSync(home);
  copyProject();
  ok(npm(["stack:init"]));
  const config = { plain: REALISTIC_CONFIG, secretKeys: Object.keys(REALISTIC_SECRETS) };
  const secret = (key: string) => REALISTIC_SECRETS[key as keyof typeof REALISTIC_SECRETS];
  ok(npm(["pulumi", "--", ...setAllArguments(config, secret), "--stack", "prod"]));
}, 600_000);

afterAll(() => scratch.remove());

describe("one stack and one policy pack, whichever CLI", () => {
  it("npm run preview keeps the stack in the project's .pulumi-state/ and runs the policy pack", () => {
    const preview = ok(npm(["preview"]));
    expect(preview.output).toMatch(/pulumi-nodejs:dynamic\/vultr:Instance/);
    expect(preview.output).toMatch(/Policies:\s+✅ conversational-platform@v[\d.]+ \(local: dist\/policy-pack\)/);
    expect(existsSync(join(project, STATE))).toBe(true);
    // ... which git never takes in (check-ignore exits non-zero otherwise).
    execFileSync("git", ["check-ignore", "--quiet", "--no-index", STATE], { cwd: ROOT });
  }, 600_000);

  it("a stock pulumi in the project folder finds that same stack and state", () => {
    const listed = JSON.parse(ok(stock(["stack", "ls", "--json"])).stdout) as { name: string }[];
    expect(listed.map((stack) => stack.name)).toEqual(["prod"]);
    const viaNpm = JSON.parse(ok(npm(["pulumi", "--", "stack", "export", "--stack", "prod"])).stdout);
    expect(JSON.parse(ok(stock(["stack", "export", "--stack", "prod"])).stdout)).toEqual(viaNpm);
    // The stack's secrets open with the same passphrase.
    expect(ok(stock(["config", "get", "natsToken", "--stack", "prod"])).stdout.trim()).toBe(
      REALISTIC_SECRETS.natsToken,
    );
  }, 600_000);

  it("a stock pulumi up stops before any resource, naming npm run up and why", () => {
    const before = JSON.parse(ok(stock(["stack", "export", "--stack", "prod"])).stdout);
    for (const args of [
      ["up", "--yes"],
      ["up", "--yes", "--skip-preview"],
    ]) {
      const refused = stock([...args, "--stack", "prod"]);
      expect(refused.code, refused.output).not.toBe(0);
      expect(refused.output).toContain("This program runs only with its policy pack (dist/policy-pack)");
      expect(refused.output).toContain("Pulumi cannot load a policy pack from Pulumi.yaml");
      expect(refused.output).toContain('Run "npm run up" (or "npm run preview")');
      expect(refused.output).not.toMatch(/platform-server|platform-firewall|vultr:Instance/);
    }
    const after = JSON.parse(ok(stock(["stack", "export", "--stack", "prod"])).stdout);
    // At most the stack's own root (which the engine records before the program runs), nothing that costs.
    const types = (after.deployment.resources ?? []).map((r: { type: string }) => r.type);
    expect(types.filter((type: string) => type !== "pulumi:pulumi:Stack")).toEqual([]);
    expect(before.deployment.resources ?? []).toEqual([]);
  }, 600_000);

  it("npm run pulumi without --policy-pack is refused too, whatever PLATFORM_POLICY_PACK the shell holds", () => {
    const refused = npm(["pulumi", "--", "preview", "--stack", "prod"], {
      PLATFORM_POLICY_PACK: join(project, "dist/policy-pack"),
    });
    expect(refused.code, refused.output).not.toBe(0);
    expect(refused.output).toContain("This program runs only with its policy pack (dist/policy-pack)");
  }, 600_000);

  it("from a subfolder, a stock pulumi stops instead of starting a second, empty state there", () => {
    const refused = stock(["stack", "ls"], { cwd: join(project, "infra") });
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain(`stat ${join(project, "infra/.pulumi-state")}: no such file or directory`);
    expect(existsSync(join(project, "infra/.pulumi-state"))).toBe(false);
  });

  it("PULUMI_BACKEND_URL still chooses the backend (CI's bucket)", () => {
    mkdirSync(join(scratch.path, "elsewhere"));
    const listed = ok(
      stock(["stack", "ls", "--json"], { env: { PULUMI_BACKEND_URL: `file://${scratch.path}/elsewhere` } }),
    );
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });
});
