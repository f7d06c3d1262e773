// Where the servers that npm run dev, npm run local, the benchmarks and the
// tests run are installed (scripts/setup/prepare-for.sh puts them there).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../project-root.js";

const toolsDir = process.env.PLATFORM_TOOLS_DIR ?? join(homedir(), ".cache/conversational-platform/bin");

export function natsServerBinary(): string {
  const path = join(toolsDir, "nats-server");
  if (!existsSync(path))
    throw new Error(
      `nats-server 2.10 is missing at ${path}; npm run dev, local, bench and test install it first, or: bash scripts/setup/prepare-for.sh dev`,
    );
  return path;
}

/**
 * Caddy at the version tools/caddy pins, built from Go modules by
 * prepare-for.sh (npm run local, bench and test build it first); CADDY_BIN
 * names another one.
 */
export function caddyBinary(): string {
  if (process.env.CADDY_BIN) return process.env.CADDY_BIN;
  const path = join(toolsDir, "caddy");
  if (!existsSync(path))
    throw new Error(
      `Caddy is missing at ${path}; npm run local, bench and test build it first, or: bash scripts/setup/prepare-for.sh local`,
    );
  return path;
}

/**
 * The Node 24 binary the local API image is built from: the `node` on PATH
 * if it is Node 24, else the one scripts/setup/fetch-node.sh fetches once.
 */
export function nodeBinary(): string {
  const dir = execFileSync("bash", [join(ROOT, "scripts/setup/fetch-node.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return join(dir.trim(), "node");
}
