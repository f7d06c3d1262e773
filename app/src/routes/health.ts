import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";

export function healthRoutes(app: FastifyInstance, deps: AppDeps) {
  app.get("/health", async (_request, reply) => {
    const base = { instance: deps.config.instanceId, activeGenerations: deps.generations.size };
    if (deps.lifecycle.state !== "serving") {
      return reply.code(503).send({ status: "unavailable", reason: "draining", ...base });
    }
    if (!deps.nats.isConnected() || !(await deps.store.ready())) {
      return reply.code(503).send({ status: "unavailable", reason: "nats_unreachable", ...base });
    }
    return { status: "ok", nats: "connected", provider: deps.provider.name, ...base };
  });
}
