// CI that cannot leak production: no job a pull request can start may read a
// secret, run in an environment, or run the branch's code with a token that
// writes; production's secrets belong to the deploy job on main alone. And
// the preview a pull request gets instead runs for real, with none of them.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { setAllArguments, throwawayConfig } from "../../scripts/ci/preview-without-secrets.js";
import { evaluate, pullRequestExposures } from "../../scripts/ci/workflow-exposure.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const ROOT = join(import.meta.dirname, "../..");
const WORKFLOWS = join(ROOT, ".github/workflows");
const workflowFiles = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));

describe("the project's workflows", () => {
  it.each(workflowFiles)("%s gives a pull request's jobs nothing of production", (file) => {
    expect(pullRequestExposures(readFileSync(join(WORKFLOWS, file), "utf8"))).toEqual([]);
  });

  it("reads production's secrets only in the deploy job, on a push to main, behind the production environment", () => {
    const workflow = parse(readFileSync(join(WORKFLOWS, "ci.yml"), "utf8")) as {
      jobs: Record<string, { if?: string; environment?: string; steps?: unknown[] }>;
    };
    const withSecrets = Object.entries(workflow.jobs).filter(([, job]) =>
      /(?<![\w.-])secrets\.(?!GITHUB_TOKEN)/.test(JSON.stringify(job)),
    );
    expect(withSecrets.map(([name]) => name)).toEqual(["deploy"]);
    const deploy = workflow.jobs.deploy!;
    expect(deploy.environment).toBe("production");
    const push = (ref: string) => evaluate(deploy.if ?? "true", { "github.event_name": "push", "github.ref": ref });
    expect(push("refs/heads/main")).toBe(true);
    expect(push("refs/heads/feature")).toBe(false);
    expect(evaluate(deploy.if ?? "true", { "github.event_name": "pull_request" })).toBe(false);
  });
});

describe("what the check refuses", () => {
  const job = (body: string, on = "pull_request") => `on: [${on}]\njobs:\n  job:\n    runs-on: x\n${body}`;

  it("a preview job that decrypts the stack with an environment's secrets (the workflow before this check)", () => {
    const exposures = pullRequestExposures(
      job(`    if: github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name == github.repository
    environment: preview
    steps:
      - uses: actions/checkout@v4
      - run: npm run -s preview
        env:
          PULUMI_CONFIG_PASSPHRASE: \${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
          AWS_ACCESS_KEY_ID: \${{ secrets['AWS_ACCESS_KEY_ID'] }}
`),
    );
    expect(exposures).toEqual([
      { job: "job", problem: "reads secrets.PULUMI_CONFIG_PASSPHRASE" },
      { job: "job", problem: "reads secrets.AWS_ACCESS_KEY_ID" },
      { job: "job", problem: "runs in the environment preview, whose secrets it would get" },
    ]);
  });

  it("a job with no condition, one whose condition a pull request meets, and inherited secrets", () => {
    expect(pullRequestExposures(job("    steps:\n      - run: echo ${{ secrets.X }}\n"))).toEqual([
      { job: "job", problem: "reads secrets.X" },
    ]);
    expect(
      pullRequestExposures(
        job("    if: github.event_name != 'push'\n    uses: ./.github/workflows/x.yml\n    secrets: inherit\n"),
      ),
    ).toEqual([{ job: "job", problem: "inherits every secret (secrets: inherit)" }]);
  });

  it("the branch's code with a token that writes", () => {
    expect(
      pullRequestExposures(
        job("    permissions:\n      contents: write\n    steps:\n      - uses: actions/checkout@v4\n"),
      ),
    ).toEqual([{ job: "job", problem: "runs the pull request's code with a token that can write" }]);
  });

  it("the branch's code on a self-hosted runner (the deploy runner sits inside adminCidrs and keeps its caches)", () => {
    const workflow =
      "on: [pull_request]\njobs:\n  job:\n    runs-on: [self-hosted, platform-deploy]\n    steps:\n      - run: make\n";
    expect(pullRequestExposures(workflow)).toEqual([
      { job: "job", problem: "runs on a self-hosted runner (self-hosted, platform-deploy), which outlives the job" },
    ]);
  });

  it("triggers whose runs hold the repository's secrets for a pull request", () => {
    for (const trigger of ["pull_request_target", "workflow_run", "issue_comment", "pull_request_review"]) {
      expect(pullRequestExposures(job("    steps: []\n", trigger)).map((e) => e.problem)).toEqual([
        `the workflow runs on ${trigger}, which gives a run started by a pull request the repository's secrets`,
      ]);
    }
  });

  it("lets a job through only when its condition is false for a pull request", () => {
    const deployOnly = job("    if: github.event_name == 'push'\n    steps:\n      - run: echo ${{ secrets.X }}\n");
    expect(pullRequestExposures(deployOnly)).toEqual([]);
    // Not on pull_request at all: nothing a branch starts.
    expect(pullRequestExposures(job("    steps:\n      - run: echo ${{ secrets.X }}\n", "push"))).toEqual([]);
  });
});

describe("evaluate (GitHub's if: expressions)", () => {
  const pr = { "github.event_name": "pull_request" };
  it.each([
    ["github.event_name == 'pull_request'", true],
    ["${{ github.event_name == 'PUSH' }}", false],
    ["github.event_name == 'push' && github.ref == 'refs/heads/main'", false],
    ["github.event_name == 'push' || github.ref == 'refs/heads/main'", "unknown"],
    ["always() && needs.preview.result != 'skipped'", "unknown"],
    ["!(github.event_name == 'pull_request')", false],
    ["contains(github.event_name, 'pull')", true],
    ["startsWith(github.head_ref, 'x')", "unknown"],
    ["failure()", "unknown"],
  ] as const)("%s is %s for a pull request", (condition, expected) => {
    expect(evaluate(condition, pr)).toBe(expected);
  });

  it("refuses what it cannot read rather than guessing", () => {
    expect(() => evaluate("github.event_name === 'x'", pr)).toThrow(/cannot read/);
  });
});

describe("the pull request's preview", () => {
  it("takes the stack file's plain settings and makes up every secret, declared or encrypted", () => {
    const project = "config:\n  natsToken:\n    type: string\n    secret: true\n  region:\n    type: string\n";
    const stack = [
      "config:",
      "  conversational-platform:region: ams",
      "  conversational-platform:adminCidrs:",
      "    - 203.0.113.7/32",
      "  conversational-platform:backupS3SecretKey:",
      "    secure: v1:abc",
      "  conversational-platform:natsToken:",
      "    secure: v1:def",
      "  aws:region: us-east-1",
    ].join("\n");
    const config = throwawayConfig(project, stack);
    expect(config).toEqual({
      plain: { region: "ams", adminCidrs: ["203.0.113.7/32"] },
      secretKeys: ["backupS3SecretKey", "natsToken"],
    });
    expect(setAllArguments(config, (key) => `made-up-${key}`)).toEqual([
      "config",
      "set-all",
      "--path",
      "--plaintext",
      "region=ams",
      "--plaintext",
      "adminCidrs[0]=203.0.113.7/32",
      "--secret",
      "backupS3SecretKey=made-up-backupS3SecretKey",
      "--secret",
      "natsToken=made-up-natsToken",
    ]);
  });

  it("previews Pulumi.prod.yaml with the policy pack, with no passphrase, state bucket or key of production", () => {
    // As a team's stack file holds it: some values encrypted (ciphertext this preview cannot read).
    const scratch = scratchDir("pr-preview");
    const stackFile = join(scratch.path, "Pulumi.prod.yaml");
    writeFileSync(
      stackFile,
      readFileSync(join(ROOT, "Pulumi.prod.yaml"), "utf8") +
        "  conversational-platform:backupRecipients:\n    secure: v1:bm90LXJlYWRhYmxl\n",
    );
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^(PULUMI_|AWS_|VULTR_)/.test(key) || key === "PULUMI_SKIP_UPDATE_CHECK",
      ),
    );
    try {
      const result = spawnSync("npx", ["tsx", "scripts/ci/preview-without-secrets.ts", stackFile], {
        cwd: ROOT,
        env,
        encoding: "utf8",
        timeout: 300_000,
      });
      const output = `${result.stdout}\n${result.stderr}`;
      expect(result.status, output).toBe(0);
      expect(output).toMatch(/made-up secrets \(backupRecipients, .*jwtSecret.*\)/);
      expect(output).toMatch(/pulumi-nodejs:dynamic\/vultr:Instance: \(create\)/);
      expect(output).toMatch(/\+ \d+ to create/);
      expect(output).toMatch(/Policy Packs run:[\s\S]*dist\/policy-pack/);
      expect(output).not.toMatch(/error:/i);
      // The throwaway stack's file never stays in the project.
      expect(readdirSync(ROOT).filter((f) => f.startsWith("Pulumi.pr-preview"))).toEqual([]);
    } finally {
      scratch.remove();
    }
  }, 300_000);
});
