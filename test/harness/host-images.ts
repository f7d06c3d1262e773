// Images for the Docker engine inside a systemd test host. No registry is
// reachable, from here or from the host: the local images (Node 24 and this
// machine's nats-server, see scripts/local/images.ts) are built with
// this machine's engine, saved into a file inside the host's root directory,
// and loaded by the host's own engine.
import { execFileSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Transport } from "../../infra/host/runner/transport.js";
import { ensureDockerEngine } from "../../scripts/local/docker-engine.js";
import { buildLocalImages } from "../../scripts/local/images.js";
import type { SystemdHost } from "./systemd-host.js";
import { natsServerBinary } from "../../scripts/setup/tools.js";

/**
 * Builds the local API and NATS images here and loads them into the host;
 * `ssh` may use docker as `docker` says ("sudo docker" for a user outside the docker group).
 */
export async function loadLocalImages(
  host: SystemdHost,
  ssh: Transport,
  docker = "docker",
): Promise<{ apiImage: string; natsImage: string }> {
  await ensureDockerEngine(() => undefined);
  const images = buildLocalImages(natsServerBinary());
  await copyImages(host, ssh, [images.apiImage, images.natsImage], docker);
  return images;
}

/** Copies images from this machine's engine into the host's (`docker save`, then `docker load` there). */
export async function copyImages(
  host: SystemdHost,
  ssh: Transport,
  images: string[],
  docker = "docker",
): Promise<void> {
  const inHost = `/var/tmp/platform-images-${process.pid}.tar`;
  const file = join(host.root, inHost);
  try {
    execFileSync("docker", ["save", "-o", file, ...images], { stdio: ["ignore", "ignore", "pipe"] });
    // The docker client reads the file as the SSH user, who may not be root.
    chmodSync(file, 0o644);
    const loaded = await ssh.exec(`${docker} load -i ${inHost}`);
    if (loaded.code !== 0) {
      throw new Error(`docker load in the test host exited with ${loaded.code}:\n${loaded.stdout}\n${loaded.stderr}`);
    }
  } finally {
    rmSync(file, { force: true });
  }
}
