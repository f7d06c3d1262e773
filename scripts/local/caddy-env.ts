// The environment that runs the production Caddyfile on this machine: loopback
// ports of the caller's choosing and a local CA instead of Let's Encrypt. Used
// by `npm run local` and by the tests, so both run the same configuration.
import { join } from "node:path";

export const CADDYFILE = join(import.meta.dirname, "../../templates/host/caddy/Caddyfile");

export interface LoopbackCaddy {
  host: string;
  upstreams: string[];
  adminPort: number;
  httpPort: number;
  httpsPort: number;
  /** Caddy's storage (certificates, the local CA) and HOME. */
  dataDir: string;
  accessLog: string;
  /** Caddy's limit to receive a request (the Caddyfile's 30 s when unset), e.g. "2s" in tests. */
  requestTimeout?: string;
}

export function loopbackCaddyEnv(options: LoopbackCaddy): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: options.dataDir,
    ACME_EMAIL: "ops@example.com",
    API_HOST: options.host,
    API_UPSTREAMS: options.upstreams.join(" "),
    CADDY_ACCESS_LOG: options.accessLog,
    ...(options.requestTimeout ? { CADDY_REQUEST_TIMEOUT: options.requestTimeout } : {}),
    CADDY_GLOBAL_OPTIONS: [
      `admin 127.0.0.1:${options.adminPort}`,
      `http_port ${options.httpPort}`,
      `https_port ${options.httpsPort}`,
      "local_certs",
      "skip_install_trust",
      `storage file_system ${options.dataDir}`,
      // Nothing of a local run listens beyond loopback.
      "default_bind 127.0.0.1",
    ].join("\n"),
  };
}

/** Where the local CA's root certificate lands, for clients to trust. */
export function localCaCertificate(dataDir: string): string {
  return join(dataDir, "pki/authorities/local/root.crt");
}
