import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";
import { storagePressure } from "../store/storage-pressure.js";

// 503 only when this instance cannot serve (draining, or NATS unreachable):
// the proxy then sends traffic elsewhere. A store filling up is "degraded"
// with 200: every instance shares it, reads still work, and an operator
// must act (see docs/operations.md).
export function healthRoutes(app: FastifyInstance, deps: AppDeps) {
  app.get("/health", async (_request, reply) => {
    const base = { instance: deps.config.instanceId, activeGenerations: deps.generations.size };
    if (deps.lifecycle.state !== "serving") {
      return reply.code(503).send({ status: "unavailable", reason: "draining", ...base });
    }
    const usage = deps.nats.isConnected() ? await deps.store.fullest().catch(() => undefined) : undefined;
    if (!usage) {
      return reply.code(503).send({ status: "unavailable", reason: "nats_unreachable", ...base });
    }
    const storage = { stream: usage.stream, ...storagePressure(usage) };
    const degraded = storage.state !== "ok";
    return {
      status: degraded ? "degraded" : "ok",
      ...(degraded ? { reason: storage.state === "full" ? "store_full" : "store_nearly_full" } : {}),
      nats: "connected",
      provider: deps.provider.name,
      storage,
      ...base,
    };
  });
}
