// Where the servers that npm run dev, npm run local, the benchmarks and the
// tests run are installed (scripts/setup/prepare-for.sh puts them there).
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const toolsDir = process.env.PLATFORM_TOOLS_DIR ?? join(homedir(), ".cache/conversational-platform/bin");

export function natsServerBinary(): string {
  const path = join(toolsDir, "nats-server");
  if (!existsSync(path))
    throw new Error(
      `nats-server 2.10 is missing at ${path}; npm run dev, local, bench and test install it first, or: bash scripts/setup/prepare-for.sh dev`,
    );
  return path;
}

export const caddyBinary = process.env.CADDY_BIN ?? "caddy";
