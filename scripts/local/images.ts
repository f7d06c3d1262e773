// Minimal local images for the compose stack, for machines that cannot pull
// from a registry: Node 24 (the one the suite runs on, see
// scripts/setup/fetch-node.sh) and the machine's nats-server, with their
// libraries and busybox, imported with `docker import`. Rebuilt only when a
// binary changes. Never used in production (image names are variables).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BUSYBOX_APPLETS, parseLdd, rootfsEntries } from "./rootfs.js";
import { nodeBinary } from "../setup/tools.js";

export const LOCAL_API_IMAGE = "platform-local/node:24";
export const LOCAL_NATS_IMAGE = "platform-local/nats:2.10";
const BUSYBOX = "/bin/busybox";

export function buildLocalImages(natsServer: string): { apiImage: string; natsImage: string } {
  buildImage(LOCAL_API_IMAGE, { source: nodeBinary(), target: "/usr/local/bin/node" });
  buildImage(LOCAL_NATS_IMAGE, { source: natsServer, target: "/usr/local/bin/nats-server" }, [
    "/usr/local/bin/nats-server",
  ]);
  return { apiImage: LOCAL_API_IMAGE, natsImage: LOCAL_NATS_IMAGE };
}

function buildImage(tag: string, binary: { source: string; target: string }, entrypoint?: string[]): void {
  const libraries = parseLdd(execFileSync("ldd", [binary.source], { encoding: "utf8" }));
  const entries = rootfsEntries(binary, libraries, BUSYBOX);
  const digest = createHash("sha256");
  for (const e of entries) digest.update(e.target).update(readFileSync(e.source));
  const label = digest.digest("hex").slice(0, 16);
  const existing = inspectLabel(tag);
  if (existing === label) return;

  const root = mkdtempSync(join(tmpdir(), "platform-image-"));
  try {
    for (const e of entries) {
      mkdirSync(join(root, dirname(e.target)), { recursive: true });
      copyFileSync(e.source, join(root, e.target));
    }
    for (const applet of BUSYBOX_APPLETS) symlinkSync("busybox", join(root, "bin", applet));
    mkdirSync(join(root, "tmp"));
    mkdirSync(join(root, "etc"));
    const changes = ["ENV PATH=/usr/local/bin:/bin", `LABEL platform.rootfs=${label}`];
    if (entrypoint) changes.push(`ENTRYPOINT ${JSON.stringify(entrypoint)}`);
    const tar = execFileSync("tar", ["-C", root, "-c", "."], { maxBuffer: 1 << 30 });
    execFileSync("docker", ["import", ...changes.flatMap((c) => ["--change", c]), "-", tag], {
      input: tar,
      stdio: ["pipe", "ignore", "inherit"],
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function inspectLabel(tag: string): string | undefined {
  try {
    return execFileSync("docker", ["image", "inspect", "-f", '{{index .Config.Labels "platform.rootfs"}}', tag], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}
