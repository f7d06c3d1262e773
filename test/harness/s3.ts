// A local S3 endpoint (tools/s3-fake: rclone's gofakes3 in memory), built
// from Go modules by scripts/setup/build-go-tool.sh s3-fake, standing in for the
// stack's Vultr Object Storage. It checks every request's signature against
// the one key pair it was given.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { BucketSettings } from "../../scripts/backup/object-store.js";
import { ManagedProcess } from "../../scripts/loopback/process.js";

const ROOT = join(import.meta.dirname, "../..");

export interface FakeS3 extends BucketSettings {
  stop(): Promise<void>;
}

/** `listen`: 127.0.0.1:0 by default; a test host reaches the fake on the host side of its link. */
export async function startFakeS3(options: { listen?: string; bucket?: string } = {}): Promise<FakeS3> {
  const binary = execFileSync("bash", [join(ROOT, "scripts/setup/build-go-tool.sh"), "s3-fake"], { encoding: "utf8" })
    .trim()
    .split("\n")
    .at(-1)!;
  const accessKey = "TESTACCESSKEY0123456";
  const secretKey = "test-secret-key-0123456789abcdef";
  const process = new ManagedProcess("s3-fake", binary, [
    "-listen",
    options.listen ?? "127.0.0.1:0",
    "-access-key",
    accessKey,
    "-secret-key",
    secretKey,
  ]);
  const line = await process.waitFor(/listening on /);
  const address = /listening on (\S+)/.exec(line)![1]!;
  return {
    endpoint: `http://${address}`,
    bucket: options.bucket ?? "platform-backups",
    accessKey,
    secretKey,
    stop: async () => void (await process.stop()),
  };
}
