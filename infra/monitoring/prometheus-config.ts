// The host's /etc/prometheus/prometheus.yml, from its template
// (templates/host/monitoring/prometheus.yml): which blackbox module checks
// the certificate, for which host name, and how often everything is read.
// Pure, so the rendered file can be checked (by promtool too) without a host.
import { renderTemplate } from "../host/render.js";

export interface ScrapeIntervals {
  /** How often every target is read. */
  scrape: string;
  /** How often the alert rules are evaluated. */
  evaluation: string;
  /** How long one read may take; at most `scrape`. */
  timeout: string;
}

/** Production's: fine enough for alerts that wait minutes, light on a small VPS. Tests shorten them. */
export const DEFAULT_INTERVALS: ScrapeIntervals = { scrape: "15s", evaluation: "15s", timeout: "10s" };

export interface PrometheusConfigInput {
  /** The site's public host name: its certificate is probed on port 443. */
  apiHost: string;
  /** With "internal" (Caddy's own CA) the certificate's chain is not checked, only its expiry. */
  tlsIssuer: "letsencrypt" | "internal";
  intervals?: ScrapeIntervals;
}

/** Where each piece listens on the host: loopback only (infra/policies/rules.ts names the same ports). */
export const MONITORING_PORTS = { prometheus: 9090, alertmanager: 9093, nodeExporter: 9100, blackboxExporter: 9115 };

const DURATION = /^([1-9][0-9]*)(ms|s|m|h)$/;
const MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const HOST_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

function millis(name: string, value: string): number {
  const match = DURATION.exec(value);
  if (!match) throw new Error(`prometheus.yml: the ${name} interval "${value}" is not a duration like 15s or 1m`);
  return Number(match[1]) * MS[match[2]!]!;
}

export function renderPrometheusConfig(template: string, input: PrometheusConfigInput): string {
  const intervals = input.intervals ?? DEFAULT_INTERVALS;
  const scrape = millis("scrape", intervals.scrape);
  millis("evaluation", intervals.evaluation);
  // Prometheus refuses a timeout longer than the interval; say so here, not on the host.
  if (millis("timeout", intervals.timeout) > scrape)
    throw new Error(
      `prometheus.yml: the scrape timeout ${intervals.timeout} is longer than the interval ${intervals.scrape}`,
    );
  if (!HOST_NAME.test(input.apiHost)) throw new Error(`prometheus.yml: "${input.apiHost}" is not a host name`);
  return renderTemplate("host/monitoring/prometheus.yml", template, {
    SCRAPE_INTERVAL: intervals.scrape,
    EVALUATION_INTERVAL: intervals.evaluation,
    SCRAPE_TIMEOUT: intervals.timeout,
    API_HOST: input.apiHost,
    CERTIFICATE_MODULE: input.tlsIssuer === "internal" ? "tls_certificate_internal" : "tls_certificate",
  });
}
