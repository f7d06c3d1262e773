import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";

export function metricsRoutes(app: FastifyInstance, deps: AppDeps) {
  app.get("/metrics", async (_request, reply) => {
    deps.metrics.natsConnected.set(deps.nats.isConnected() ? 1 : 0);
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
