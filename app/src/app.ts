// The HTTP application: its hooks and routes wired to their dependencies. The
// process concerns (config, connections, signals) live in server.ts.
import { context, propagation, SpanKind, SpanStatusCode, type Span, type Tracer } from "@opentelemetry/api";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "./config/env.js";
import type { GenerationRegistry } from "./chat/registry.js";
import type { ResumeStreams } from "./chat/resume-streams.js";
import type { Metrics } from "./observability/metrics.js";
import { logRequests, RequestLogController } from "./observability/request-log.js";
import { createAuthenticator } from "./http/auth.js";
import { jwtKeySet } from "./auth/jwt-keys.js";
import { registerErrorHandling } from "./http/errors.js";
import { registerJsonBody } from "./http/json-body.js";
import { answerFrameworkError, clientErrorHandler } from "./http/protocol-errors.js";
import { createRateLimiter } from "./http/rate-limit.js";
import { registerCors } from "./http/cors.js";
import type { LlmProvider } from "./providers/types.js";
import { conversationRoutes } from "./routes/conversations.js";
import { healthRoutes } from "./routes/health.js";
import { messageRoutes } from "./routes/messages.js";
import { metricsRoutes } from "./routes/metrics.js";
import type { ChatStore } from "./store/chat-store.js";
import type { NatsHandle } from "./store/nats-connection.js";
import type { StorageQuota } from "./store/stored-bytes-counters.js";
import type { TokenBudgets } from "./store/token-budget-counters.js";

export interface AppDeps {
  config: Config;
  logger: Logger;
  store: ChatStore;
  nats: NatsHandle;
  provider: LlmProvider;
  metrics: Metrics;
  tracer: Tracer;
  generations: GenerationRegistry;
  /**
   * "leaving": /health says 503 so the proxy stops sending, but requests are
   * still served (DRAIN_DELAY); "draining": new streams are refused too.
   */
  lifecycle: { state: "serving" | "leaving" | "draining" };
  /** The resume streams open here: shutdown stops them (clients resume elsewhere), a delete ends them. */
  resumeStreams: ResumeStreams;
  /** Each user's tokens per window, shared by every instance. */
  budgets: TokenBudgets;
  /** Each user's stored bytes, shared by every instance. */
  quota: StorageQuota;
  /** Users whose tokens are revoked (store/revocations.ts). */
  revocations?: { revokedUpTo(subject: string): number | undefined };
}

declare module "fastify" {
  interface FastifyRequest {
    span?: Span;
  }
}

const BODY_LIMIT_BYTES = 256 * 1024;
const CONNECTIONS_CHECK_MS = 1000;

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Fastify's per-request lines are replaced by logRequests (one line, no headers).
    logController: new RequestLogController(),
    trustProxy: deps.config.trustedProxies,
    bodyLimit: BODY_LIMIT_BYTES,
    // Idle keep-alive sockets must not hold up shutdown; open streams do.
    forceCloseConnections: "idle",
    // A client has REQUEST_TIMEOUT to send its headers and body, so slow
    // senders cannot hold connections open; Node clears it once the request
    // is received, so it never cuts a response however long it streams.
    requestTimeout: deps.config.requestTimeoutMs,
    http: {
      headersTimeout: deps.config.requestTimeoutMs,
      requestTimeout: deps.config.requestTimeoutMs,
      // How often Node looks for late requests (its default, 30 s, would double a 30 s timeout).
      connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
    },
    clientErrorHandler: clientErrorHandler(deps.config.requestTimeoutMs),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    frameworkErrors: answerFrameworkError,
  });
  registerErrorHandling(app);
  registerJsonBody(app);
  observeRequests(app, deps.metrics, deps.tracer);
  logRequests(app);

  healthRoutes(app, deps);
  metricsRoutes(app, deps);
  registerCors(app, deps.config.corsOrigins);

  const authenticate = createAuthenticator(jwtKeySet(deps.config.jwtSecret, deps.config.jwtPreviousSecret), {
    issuer: deps.config.jwtIssuer,
    audience: deps.config.jwtAudience,
    maxLifetimeMs: deps.config.jwtMaxLifetimeMs,
    revokedUpTo: (subject) => deps.revocations?.revokedUpTo(subject),
  });
  const limit = createRateLimiter({
    requests: { ip: deps.config.rateLimitIpRequests, user: deps.config.rateLimitRequests },
    windowMs: deps.config.rateLimitWindowMs,
    metrics: deps.metrics,
    nats: deps.nats,
    replicas: deps.config.natsReplicas,
    logger: deps.logger,
  });
  // No request is taken before the counters' bucket is opened: its first
  // JetStream requests belong to start-up, not to the first requests served.
  app.addHook("onReady", () => limit.opened);
  // Set by authentication on every /v1 request; declared (http/auth.ts) and
  // decorated up front, empty, so every request object has the same shape.
  app.decorateRequest("userId", "");
  void app.register(async (v1) => {
    v1.addHook("onRequest", async (request, reply) => {
      await limit("ip", request.ip, reply);
      await authenticate(request);
      await limit("user", request.userId, reply);
    });
    conversationRoutes(v1, deps);
    messageRoutes(v1, deps);
  });
  return app;
}

function observeRequests(app: FastifyInstance, metrics: Metrics, tracer: Tracer) {
  app.addHook("onRequest", async (request) => {
    const parent = propagation.extract(context.active(), request.headers);
    request.span = tracer.startSpan(
      `${request.method} ${request.routeOptions.url ?? "unmatched"}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": request.method, "url.path": request.url.split("?")[0] },
      },
      parent,
    );
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (request.span) {
      request.span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) request.span.setStatus({ code: SpanStatusCode.ERROR });
      request.span.end();
    }
  });
}
