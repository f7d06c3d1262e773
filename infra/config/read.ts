// Carries the stack's configuration out of the Pulumi runtime into the pure
// parser. The only place that touches Pulumi's config store.
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config.js";
import { CONFIG_SCHEMA, parseStackConfig, PROJECT, type StackConfig } from "./stack-config.js";

// Exported by the SDK at run time but missing from its type declarations.
const isConfigSecret = (runtimeConfig as unknown as { isConfigSecret(key: string): boolean }).isConfigSecret;

export function readStackConfig(): StackConfig {
  const all = pulumi.runtime.allConfig();
  const values: Record<string, string> = {};
  const secretKeys = new Set<string>();
  for (const key of Object.keys(CONFIG_SCHEMA)) {
    const fullKey = `${PROJECT}:${key}`;
    if (all[fullKey] !== undefined) values[key] = all[fullKey];
    if (isConfigSecret(fullKey)) secretKeys.add(key);
  }
  return parseStackConfig({ values, secretKeys, stack: pulumi.getStack() });
}
