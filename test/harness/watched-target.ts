// An ops target whose host is this machine, watched: a test that expects a
// command to refuse before touching the host checks that nothing ran there.
import { LocalTransport } from "../../infra/host/runner/local.js";
import type { Target } from "../../scripts/ops/target.js";
import type { FakeS3 } from "./s3.js";

/** The target, and the name of every transport call made on it, in order. */
export function watchedTarget(s3: FakeS3, recipients: string[]): { target: Target; calls: string[] } {
  const calls: string[] = [];
  const local = new LocalTransport();
  const transport = new Proxy(local, {
    get(real, property, receiver) {
      const value = Reflect.get(real, property, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(real, args);
      };
    },
  });
  const target = {
    description: "the watched host",
    transport,
    paths: { appDir: "/nonexistent/app", dataDir: "/nonexistent/data" },
    jwtSecret: () => "",
    jwtClaims: () => ({}),
    bucket: () => s3,
    backupRecipients: () => recipients,
  } satisfies Target;
  return { target, calls };
}
