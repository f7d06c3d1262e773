// The stack `npm run local` runs, as a day-2 command's target (--local):
// this machine's shell, the folders and ports the local stack wrote down.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LocalTransport } from "../../infra/host/runner/local.js";
import { LOCAL_STACK_FILE, LOCAL_STACK_SETTINGS, type LocalStackFile } from "../local/local-stack.js";
import { bucketFromEnv, recipientsFromEnv } from "./backup-access.js";
import { OpsError } from "./ops-error.js";
import { localStackAccess } from "./stack-secrets.js";
import type { Target } from "./target.js";

export function localTarget(dir: string, env: NodeJS.ProcessEnv): Target {
  const file = join(dir, LOCAL_STACK_FILE);
  if (!existsSync(file)) throw new OpsError(`no local stack in ${dir}: start one with npm run local`);
  const local = JSON.parse(readFileSync(file, "utf8")) as LocalStackFile;
  return {
    description: `the local stack in ${dir}`,
    transport: new LocalTransport(`the local stack in ${dir}`),
    paths: { appDir: local.appDir, dataDir: local.dataDir },
    local: { apiHost: local.apiHost, httpsPort: local.httpsPort, dataDir: local.caddyData, accessLog: local.accessLog },
    // The settings it deployed (a rotation changes them), or its first secrets.
    jwtSecret: () =>
      (
        JSON.parse(
          readFileSync(
            join(dir, existsSync(join(dir, LOCAL_STACK_SETTINGS)) ? LOCAL_STACK_SETTINGS : "secrets.json"),
            "utf8",
          ),
        ) as { jwtSecret: string }
      ).jwtSecret,
    stack: localStackAccess(dir),
    // The local stack's API reads JWT_ISSUER / JWT_AUDIENCE from the shell that started it.
    jwtClaims: () => ({
      issuer: env.OPS_JWT_ISSUER || env.JWT_ISSUER || undefined,
      audience: env.OPS_JWT_AUDIENCE || env.JWT_AUDIENCE || undefined,
    }),
    bucket: () => bucketFromEnv(env),
    backupRecipients: () => recipientsFromEnv(env) ?? [],
  };
}
