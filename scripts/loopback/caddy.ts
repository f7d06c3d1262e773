// The project's real Caddyfile (templates/Caddyfile) run by a real Caddy on
// loopback ports, with a local CA instead of Let's Encrypt.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CADDYFILE, localCaCertificate, loopbackCaddyEnv } from "../local/caddy-env.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";
import { scratchDir } from "./tmp.js";
import { caddyBinary } from "../setup/tools.js";

export interface RunningCaddy {
  httpsPort: number;
  httpPort: number;
  pid: number;
  /** The local CA's root certificate, for clients to trust. */
  ca(): Buffer;
  accessLog(): string;
  stop(): Promise<void>;
}

export async function startCaddy(options: {
  upstreams: string[];
  host?: string;
  /** CADDY_REQUEST_TIMEOUT, e.g. "2s". */
  requestTimeout?: string;
}): Promise<RunningCaddy> {
  const dir = scratchDir("caddy");
  const [adminPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const accessLog = join(dir.path, "access.log");
  const dataDir = join(dir.path, "data");
  const env = loopbackCaddyEnv({
    host: options.host ?? "localhost",
    upstreams: options.upstreams,
    adminPort,
    httpPort,
    httpsPort,
    dataDir,
    accessLog,
    requestTimeout: options.requestTimeout,
  });
  const caddy = new ManagedProcess("caddy", caddyBinary(), ["run", "--config", CADDYFILE, "--adapter", "caddyfile"], {
    env,
  });
  await caddy.waitFor(/serving initial configuration/);
  // The local CA issues the site certificate in the background; a handshake
  // before that fails.
  await caddy.waitFor(/certificate obtained successfully/);
  return {
    httpsPort,
    httpPort,
    pid: caddy.pid,
    ca: () => readFileSync(localCaCertificate(dataDir)),
    accessLog: () => readFileSync(accessLog, "utf8"),
    async stop() {
      await caddy.stop();
      dir.remove();
    },
  };
}
