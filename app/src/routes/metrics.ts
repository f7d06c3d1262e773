import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.js";

export function metricsRoutes(app: FastifyInstance, deps: AppDeps) {
  const { metrics } = deps;
  app.get("/metrics", async (request, reply) => {
    metrics.natsConnected.set(deps.nats.isConnected() ? 1 : 0);
    // Read at scrape time; while NATS is away the last values stay.
    const usage = await deps.store.usage.all().catch((err: unknown) => {
      request.log.warn({ err }, "could not read the store's usage for /metrics");
      return undefined;
    });
    // Connected but unanswered: JetStream has no leader for its own state
    // (a cluster without quorum), which the stale values could not show.
    metrics.jetstreamAvailable.set(usage ? 1 : 0);
    for (const { stream, bytes, messages, maxBytes, replicas, replicasCurrent, hasLeader } of usage ?? []) {
      metrics.storeBytes.set({ stream }, bytes);
      metrics.storeMessages.set({ stream }, messages);
      metrics.storeLimitBytes.set({ stream }, maxBytes);
      metrics.streamReplicas.set({ stream }, replicas);
      metrics.streamReplicasCurrent.set({ stream }, replicasCurrent);
      metrics.streamHasLeader.set({ stream }, hasLeader ? 1 : 0);
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
