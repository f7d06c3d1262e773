// The kinds of value the environment holds (durations, sizes, lists, URLs,
// flags) as zod schemas, and the error a bad one stops start-up with
// (ConfigError), which shows a secret by its length, never echoed into a
// log. env.ts reads each variable with one of them.
import bytes from "bytes";
import ms from "ms";
import { hostname } from "node:os";
import { z } from "zod";

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
  }
}

export const optionalString = z.string().optional();
export const positiveInt = z.coerce.number().int().positive();
export const wholeNumber = z.coerce.number().int().min(0);
/** A browser origin as browsers send it: scheme, host and port, nothing else. */
export const webOrigin = z.string().refine((s) => {
  try {
    const url = new URL(s);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === s;
  } catch {
    return false;
  }
});
export const port = z.coerce.number().int().min(1).max(65535);
export const subjectToken = z.string().regex(/^[A-Za-z0-9_-]+$/);
export const httpUrl = z.url({ protocol: /^https?$/ });
export const commaList = z.string().transform((s) =>
  s
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean),
);
export const booleanFlag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
export const natsUrls = commaList.pipe(z.array(z.url({ protocol: /^(nats|tls|wss?)$/ })).min(1));

export const MIB = 1024 ** 2;
export const MIN_USER_QUOTA_BYTES = 64 * 1024;
export const GIB = 1024 ** 3;
export const byteSize = z.string().transform((s, ctx) => {
  const parsed = /^\d+$/.test(s) ? Number(s) : bytes.parse(s);
  if (parsed === null || !Number.isFinite(parsed)) {
    ctx.addIssue({ code: "custom", message: "not a size" });
    return z.NEVER;
  }
  return parsed;
});

export function duration({ minMs }: { minMs: number }) {
  return z
    .string()
    .transform((s) => (/^\d+$/.test(s) ? Number(s) * 1000 : ms(s as ms.StringValue)))
    .pipe(z.number().int().min(minMs));
}

export function safeHostname(): string {
  return hostname().replace(/[^A-Za-z0-9_-]/g, "-") || "api";
}

// A bad secret is described by its length, never echoed into a log.
// (By the end of the name: USER_INPUT_TOKENS_PER_WINDOW is no secret.)
const SECRET_NAMES = /(TOKEN|SECRET|KEY|PASSWORD)$/;
export function describeValue(name: string, value: string): string {
  return SECRET_NAMES.test(name) ? `${value.length} characters` : JSON.stringify(value);
}
