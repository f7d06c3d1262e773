// Process entry: read the config, connect, serve, and shut down gracefully.
// On SIGTERM /health turns 503 at once (so Caddy stops sending traffic), new
// streams are refused, running answers get SHUTDOWN_GRACE to finish, and the
// process exits 0.
import { pino, type Logger } from "pino";
import { buildApp, type AppDeps } from "./app.js";
import { GenerationRegistry } from "./chat/registry.js";
import { ResumeStreams } from "./chat/resume-streams.js";
import { ConfigError, loadConfig, type Config } from "./config/env.js";
import { loggerOptions } from "./observability/logger.js";
import { createMetrics } from "./observability/metrics.js";
import { startTracing } from "./observability/tracing.js";
import { providerFromConfig } from "./providers/index.js";
import { ChatStore } from "./store/chat-store.js";
import { StorageQuota } from "./store/stored-bytes-counters.js";
import { TokenBudgets } from "./store/token-budget-counters.js";
import { connectNats } from "./store/nats-connection.js";
import { RevocationList } from "./store/revocations.js";

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }

  const logger = pino(loggerOptions(config.logLevel, config.instanceId));
  const metrics = createMetrics();
  const tracing = startTracing({
    enabled: config.tracingEnabled,
    endpoint: config.tracingEndpoint,
    instanceId: config.instanceId,
  });
  const provider = providerFromConfig(config);
  if (provider.name === "mock")
    logger.warn("LLM_PROVIDER=mock: answers are canned text from a local mock, no model is called");

  const nats = await connectNats(
    {
      servers: config.natsServers,
      user: config.natsUser,
      password: config.natsPassword,
      token: config.natsToken,
      name: `api-${config.instanceId}`,
    },
    logger,
  );
  metrics.natsConnected.set(1);
  const store = await openStore(
    () =>
      ChatStore.open(
        nats.nc,
        {
          replicas: config.natsReplicas,
          leaseTtlMs: config.generationLeaseMs,
          retentionMs: config.chatRetentionMs,
          maxBytes: config.chatMaxBytes,
        },
        logger,
      ),
    logger,
  );
  const revocations = await openStore(() => RevocationList.open(nats.nc, config.natsReplicas, logger), logger);
  nats.onStateChange((up) => {
    metrics.natsConnected.set(up ? 1 : 0);
    if (!up) return;
    store
      .ensure()
      .catch((err: unknown) => logger.error({ err }, "could not re-create JetStream storage after reconnecting"));
  });
  const lifecycle: AppDeps["lifecycle"] = { state: "serving" };
  const generations = new GenerationRegistry({
    store,
    provider,
    metrics,
    tracer: tracing.tracer,
    log: logger,
    instanceId: config.instanceId,
    leaseTtlMs: config.generationLeaseMs,
    upstreamIdleTimeoutMs: config.upstreamIdleTimeoutMs,
    maxOutputTokens: config.maxOutputTokens,
    contextLimits: { maxMessages: config.historyMaxMessages, maxTokens: config.contextMaxTokens },
  });
  const resumeStreams = new ResumeStreams();
  // A conversation deleted on any instance stops its answers and ends its resume streams here too.
  store.onConversationStopped((conversationId) => {
    generations.stopConversation(conversationId);
    resumeStreams.conversationDeleted(conversationId);
  });
  const budgets = new TokenBudgets(
    nats.nc,
    {
      input: config.userInputTokensPerWindow,
      output: config.userOutputTokensPerWindow,
      windowMs: config.userTokenWindowMs,
    },
    config.natsReplicas,
  );
  const quota = new StorageQuota(
    nats.nc,
    store,
    config.userMaxStoredBytes,
    { retentionMs: config.chatRetentionMs, replicas: config.natsReplicas },
    logger,
  );
  // Their buckets are made (or their settings applied) now; a failure here
  // is met again, and answered with 503, by the first message.
  await Promise.all([budgets.open(), quota.open()]).catch((err: unknown) =>
    logger.warn({ err }, "could not open the quota buckets yet; the first message tries again"),
  );
  const app = buildApp({
    config,
    logger,
    store,
    nats,
    provider,
    metrics,
    tracer: tracing.tracer,
    generations,
    lifecycle,
    resumeStreams,
    budgets,
    quota,
    revocations,
  });
  await app.listen({ host: config.serverHost, port: config.serverPort });
  logger.info({ provider: provider.name, model: config.model }, "API ready");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // First only report unhealthy, while the proxy's health check notices;
    // then refuse new streams and let the running ones finish.
    lifecycle.state = "leaving";
    logger.info({ signal, drainDelayMs: config.drainDelayMs }, "leaving: /health now answers 503");
    await new Promise((resolve) => setTimeout(resolve, config.drainDelayMs));
    lifecycle.state = "draining";
    logger.info({ activeGenerations: generations.size, graceMs: config.shutdownGraceMs }, "draining");
    const { finished, stopped } = await generations.drain(config.shutdownGraceMs);
    // Resume streams of answers generated elsewhere would keep the server
    // open: ended now, their clients resume on another instance.
    logger.info({ finished, stopped, resumeStreams: resumeStreams.size }, "answers settled; closing");
    resumeStreams.stopAll();
    await app.close();
    await nats.nc.drain().catch(() => undefined);
    await tracing.shutdown().catch(() => undefined);
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/**
 * JetStream may not take the stream yet when NATS has just started (a
 * cluster still electing its leader, or missing peers for the replicas):
 * retry for a minute before giving up.
 */
async function openStore<T>(open: () => Promise<T>, logger: Logger): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await open();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      logger.warn({ err }, "JetStream is not ready; retrying");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
