// One log line per request, written when its response is done (or when the
// client leaves first), without headers: Fastify's own lines (one on arrival,
// one on completion, every header included) and Caddy's health check every
// second on each instance filled the containers' 50 MB log cap in about a
// day. Probes are only logged when they fail.
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";

type Level = "info" | "warn" | "error";

// Caddy asks for /health every second and Prometheus scrapes /metrics: a
// line for each success would be most of the log and say nothing.
const PROBE_ROUTES = new Set(["/health", "/health/details", "/metrics"]);

/** The level of a request's line, or undefined when it gets none. */
export function requestLogLevel(route: string | undefined, status: number): Level | undefined {
  const probe = route !== undefined && PROBE_ROUTES.has(route);
  if (probe && status < 400) return undefined;
  // /health answers 503 by design while the instance drains or cannot reach
  // NATS; both are logged on their own lines, so this is no fault of its own.
  if ((route === "/health" || route === "/health/details") && status === 503) return "warn";
  if (status >= 500) return "error";
  return "info";
}

/**
 * Keeps Fastify's error lines (stream errors, failed serializers) and drops
 * its per-request ones, which logRequests replaces.
 */
export class RequestLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) super.requestCompleted(error, request, reply);
  }
}

export function logRequests(app: FastifyInstance): void {
  // "close" comes once the response is done, and also when the client leaves
  // first (an event stream it stopped reading), which "onResponse" misses.
  app.addHook("onRequest", async (request, reply) => {
    reply.raw.once("close", () => {
      const aborted = !reply.raw.writableFinished;
      const route = request.routeOptions.url;
      const level = aborted ? "info" : requestLogLevel(route, reply.statusCode);
      if (!level) return;
      request.log[level](
        {
          method: request.method,
          // Without the query: it is the client's to fill, secrets included.
          path: request.url.split("?")[0],
          route,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          ip: request.ip,
          // Empty until authentication names the user (app.ts decorates it so).
          user: request.userId || undefined,
        },
        aborted ? "request aborted by the client" : "request",
      );
    });
  });
}
