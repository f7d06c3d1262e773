// The project's real Caddyfile (templates/Caddyfile) run by a real Caddy on
// loopback ports, with a local CA instead of Let's Encrypt.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";
import { scratchDir } from "./tmp.js";
import { caddyBinary } from "./tools.js";

export const CADDYFILE = join(import.meta.dirname, "../../templates/host/caddy/Caddyfile");

export interface RunningCaddy {
  httpsPort: number;
  httpPort: number;
  /** The local CA's root certificate, for clients to trust. */
  ca(): Buffer;
  accessLog(): string;
  stop(): Promise<void>;
}

export async function startCaddy(options: { upstreams: string[]; host?: string }): Promise<RunningCaddy> {
  const dir = scratchDir("caddy");
  const [adminPort, httpPort, httpsPort] = [await freePort(), await freePort(), await freePort()];
  const accessLog = join(dir.path, "access.log");
  const env = {
    ...process.env,
    HOME: dir.path,
    ACME_EMAIL: "ops@example.com",
    API_HOST: options.host ?? "localhost",
    API_UPSTREAMS: options.upstreams.join(" "),
    CADDY_ACCESS_LOG: accessLog,
    CADDY_GLOBAL_OPTIONS: [
      `admin 127.0.0.1:${adminPort}`,
      `http_port ${httpPort}`,
      `https_port ${httpsPort}`,
      "local_certs",
      "skip_install_trust",
      `storage file_system ${join(dir.path, "data")}`,
      // Bind to loopback only, in tests.
      "default_bind 127.0.0.1",
    ].join("\n"),
  };
  const caddy = new ManagedProcess("caddy", caddyBinary, ["run", "--config", CADDYFILE, "--adapter", "caddyfile"], {
    env,
  });
  await caddy.waitFor(/serving initial configuration/);
  // The local CA issues the site certificate in the background; a handshake
  // before that fails.
  await caddy.waitFor(/certificate obtained successfully/);
  return {
    httpsPort,
    httpPort,
    ca: () => readFileSync(join(dir.path, "data/pki/authorities/local/root.crt")),
    accessLog: () => readFileSync(accessLog, "utf8"),
    async stop() {
      await caddy.stop();
      dir.remove();
    },
  };
}
