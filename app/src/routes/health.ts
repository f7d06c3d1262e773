// /health for anyone (the proxy's active check, uptime monitors): the bare
// status. /health/details for the host (the deploy's verify step, `ops
// status`): why, which stream, how full, the provider, the instance. Caddy
// never proxies /health/* (templates/host/caddy/Caddyfile), and a request
// that came through any proxy is refused here too, so the details reach
// only who can reach the instance's port. Both answer from one reading of
// the store taken at most once a second (CachedReading), and while the
// instance leaves they answer 503 at once, without reading anything.
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";
import { CachedReading } from "../observability/cached-reading.js";
import { healthOf, type StoreReading } from "../observability/health.js";
import { sendError } from "../http/errors.js";

/** At most one JetStream API request a second per instance, whatever the rate of health checks. */
export const HEALTH_READING_INTERVAL_MS = 1000;

export function healthRoutes(app: FastifyInstance, deps: AppDeps) {
  const reading = new CachedReading<StoreReading>(
    async () => ({ at: Date.now(), usage: await deps.store.usage.all().catch(() => undefined) }),
    HEALTH_READING_INTERVAL_MS,
  );
  const currentHealth = async () => {
    const natsConnected = deps.nats.isConnected();
    const read = deps.lifecycle.state === "serving" && natsConnected;
    return healthOf({
      lifecycle: deps.lifecycle.state,
      natsConnected,
      reading: read ? await reading.get() : undefined,
    });
  };

  app.get("/health", async (_request, reply) => {
    const health = await currentHealth();
    return reply.code(health.httpStatus).send({ status: health.status });
  });

  app.get("/health/details", async (request, reply) => {
    if (request.headers["x-forwarded-for"] !== undefined || request.headers.forwarded !== undefined) {
      return sendError(reply, 404, "not_found", `No route for GET ${request.url.split("?")[0]}.`);
    }
    const { httpStatus, ...health } = await currentHealth();
    return reply.code(httpStatus).send({
      ...health,
      nats: deps.nats.isConnected() ? "connected" : "disconnected",
      provider: deps.provider.name,
      instance: deps.config.instanceId,
      activeGenerations: deps.generations.size,
    });
  });
}
