// Where a target's stack settings and secrets are kept, for `rotate`: the
// Pulumi stack's config (secrets encrypted), so the next `pulumi up` deploys
// what the rotation left and undoes nothing; or, for the stack `npm run
// local` runs, its own files (mode 0600).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseStackConfig, PROJECT, type RawConfig } from "../../infra/config/stack-config.js";
import type { StackSettings } from "../../infra/host/steps.js";
import { LOCAL_STACK_SETTINGS } from "../local/local-stack.js";
import type { StackSecrets } from "./rotation.js";
import { OpsError } from "./ops-error.js";
import { pulumiOnStack } from "./pulumi-stack.js";

export interface StackAccess {
  description: string;
  read(): StackSettings;
  save(secrets: StackSecrets): void;
}

/** A change to the stack's config: a value to set (encrypted when secret), or a key to remove. */
export interface ConfigChange {
  key: string;
  value?: string;
  secret: boolean;
}

/** The config changes that store `after` where `before` was. */
export function configChanges(before: StackSecrets, after: StackSecrets): ConfigChange[] {
  const flat = (s: StackSecrets): Record<string, [string | undefined, boolean]> => ({
    natsToken: [s.natsToken, true],
    natsPreviousToken: [s.natsPreviousToken, true],
    jwtSecret: [s.jwtSecret, true],
    jwtPreviousSecret: [s.jwtPreviousSecret?.secret, true],
    jwtPreviousSecretUntil: [s.jwtPreviousSecret?.until, false],
    llmApiKey: [s.llmApiKey, true],
  });
  const [was, will] = [flat(before), flat(after)];
  return Object.entries(will)
    .filter(([key, [value]]) => value !== was[key]![0])
    .map(([key, [value, secret]]) => ({ key, value: value || undefined, secret }));
}

/** `pulumi config --json --show-secrets`, as the stack's parser reads config. */
export function rawConfigFromPulumi(
  json: Record<string, { value?: unknown; secret?: boolean }>,
  stack: string,
): RawConfig {
  const values: Record<string, string> = {};
  const secretKeys = new Set<string>();
  for (const [fullKey, entry] of Object.entries(json)) {
    if (!fullKey.startsWith(`${PROJECT}:`)) continue;
    const key = fullKey.slice(PROJECT.length + 1);
    if (entry.value !== undefined)
      values[key] = typeof entry.value === "string" ? entry.value : JSON.stringify(entry.value);
    if (entry.secret) secretKeys.add(key);
  }
  return { values, secretKeys, stack };
}

/** The Pulumi stack, through scripts/pulumi.sh (PULUMI_CONFIG_PASSPHRASE decrypts its secrets). */
export function pulumiStackAccess(stack: string, env: NodeJS.ProcessEnv = process.env): StackAccess {
  const pulumi = (args: string[], input?: string) => pulumiOnStack(stack, args, input, env);
  let current: StackSettings | undefined;
  return {
    description: `the Pulumi stack ${stack} (encrypted)`,
    read: () => {
      const json = JSON.parse(pulumi(["config", "--json", "--show-secrets"])) as Record<
        string,
        { value?: unknown; secret?: boolean }
      >;
      current = parseStackConfig(rawConfigFromPulumi(json, stack)).app;
      return current;
    },
    save: (secrets) => {
      if (!current) throw new Error("read the stack before saving to it");
      for (const change of configChanges(current, secrets)) {
        const key = `${PROJECT}:${change.key}`;
        // The value on stdin: never on a command line, where ps would show it.
        if (change.value === undefined) pulumi(["config", "rm", key]);
        else pulumi(["config", "set", ...(change.secret ? ["--secret"] : ["--plaintext"]), key], change.value);
      }
      current = { ...current, ...secrets };
    },
  };
}

/** The stack `npm run local` runs: its settings in the folder, as it last deployed them. */
export function localStackAccess(dir: string): StackAccess {
  const file = join(dir, LOCAL_STACK_SETTINGS);
  return {
    description: file,
    read: () => {
      try {
        return JSON.parse(readFileSync(file, "utf8")) as StackSettings;
      } catch {
        throw new OpsError(`${file} is missing: start the local stack with npm run local (this version) first`);
      }
    },
    save: (secrets) => {
      const settings = { ...(JSON.parse(readFileSync(file, "utf8")) as StackSettings), ...secrets };
      writeFileSync(file, JSON.stringify(settings), { mode: 0o600 });
    },
  };
}
