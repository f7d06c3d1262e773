// `scripts/pulumi.sh <args> --stack <stack>` for the ops commands: what it
// prints, or an OpsError that names why the stack could not be read and how
// to fix it (scripts/ops/pulumi-failure.ts decides the words).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../project-root.js";
import { explainPulumiFailure } from "./pulumi-failure.js";
import { OpsError } from "./ops-error.js";

export function pulumiOnStack(stack: string, args: string[], input?: string, env = process.env): string {
  const run = spawnSync("bash", [join(ROOT, "scripts/pulumi.sh"), ...args, "--stack", stack], {
    encoding: "utf8",
    input,
    env,
    maxBuffer: 64 << 20,
  });
  if (run.error) throw new OpsError(`could not run scripts/pulumi.sh: ${run.error.message}`);
  if (run.status === 0) return run.stdout;
  throw new OpsError(
    explainPulumiFailure(
      { code: run.status, stderr: run.stderr },
      {
        stack,
        backend: env.PULUMI_BACKEND_URL || undefined,
        passphrase: env.PULUMI_CONFIG_PASSPHRASE || undefined,
        passphraseFile: env.PULUMI_CONFIG_PASSPHRASE_FILE || undefined,
      },
    ),
  );
}
