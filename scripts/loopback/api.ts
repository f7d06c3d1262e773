// The bundled API (dist/api.cjs, built by `npm run build`) as a real process.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../project-root.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";

export const BUNDLE = join(ROOT, "dist/api.cjs");
export const TEST_JWT_SECRET = "test-jwt-secret-that-is-long-enough-0123456789";

export interface RunningApi {
  port: number;
  url: string;
  process: ManagedProcess;
  /** Parsed JSON log lines. */
  logs(): Array<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

export async function startApi(
  env: Record<string, string>,
  options: {
    waitReady?: boolean;
    nodeArgs?: string[];
    /** Another build of the API, e.g. an earlier release's, to write a store the current one must read. */
    bundle?: string;
  } = {},
): Promise<RunningApi> {
  const bundle = options.bundle ?? BUNDLE;
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing; run: npm run build`);
  const port = env.SERVER_PORT ? Number(env.SERVER_PORT) : await freePort();
  const proc = new ManagedProcess("api", process.execPath, [...(options.nodeArgs ?? []), bundle], {
    // Only what the test gives: the bundle must not depend on anything else.
    env: {
      PATH: process.env.PATH,
      SERVER_HOST: "127.0.0.1",
      SERVER_PORT: String(port),
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: "info",
      // JetStream reserves each stream's max_bytes out of the server's
      // max_file_store (1 GB in nats.ts here): the 10 GB default
      // would not fit.
      CHAT_MAX_BYTES: "256MB",
      ...env,
    },
    cwd: "/",
  });
  if (options.waitReady ?? true) await proc.waitFor(/"API ready"/);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    process: proc,
    logs: () =>
      proc.output.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    stop: () => proc.stop(),
  };
}
