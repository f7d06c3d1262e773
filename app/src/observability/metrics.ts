// Prometheus metrics: one registry per app so tests can run several apps in
// one process without their counters mixing.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by method, route and status code.",
      labelNames: ["method", "route", "status"] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration; for event streams, until the stream ends.",
      labelNames: ["method", "route"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    }),
    activeStreams: new Gauge({
      name: "chat_active_streams",
      help: "Event streams open to clients (new answers and resumes).",
      registers,
    }),
    activeGenerations: new Gauge({
      name: "chat_active_generations",
      help: "Answers being generated on this instance.",
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: "chat_time_to_first_token_seconds",
      help: "Time from request to the first text from the model.",
      labelNames: ["provider", "model"] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32],
      registers,
    }),
    tokens: new Counter({
      name: "llm_tokens_total",
      help: "Tokens by provider, model and direction (input or output).",
      labelNames: ["provider", "model", "direction"] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: "rate_limit_rejections_total",
      help: "Requests refused with 429, by the limit that refused them (ip, user, answers in progress, tokens).",
      labelNames: ["scope"] as const,
      registers,
    }),
    // The denominator of the upstream error ratio an alert watches: every
    // call counts here once, whether it ends well or in llm_upstream_errors_total.
    upstreamRequests: new Counter({
      name: "llm_requests_total",
      help: "Model calls started, by provider and model.",
      labelNames: ["provider", "model"] as const,
      registers,
    }),
    upstreamErrors: new Counter({
      name: "llm_upstream_errors_total",
      help: "Failed model calls by provider and error code.",
      labelNames: ["provider", "code"] as const,
      registers,
    }),
    storeWriteFailures: new Counter({
      name: "chat_store_write_failures_total",
      help: "Records the chat store could not take after retries, by record (events, answer) and reason (full, unavailable).",
      labelNames: ["record", "reason"] as const,
      registers,
    }),
    storeBytes: new Gauge({
      name: "chat_store_bytes",
      help: "Bytes held by each JetStream stream of the chat store (KV buckets are streams named KV_<bucket>).",
      labelNames: ["stream"] as const,
      registers,
    }),
    storeMessages: new Gauge({
      name: "chat_store_messages",
      help: "Messages held by each JetStream stream of the chat store.",
      labelNames: ["stream"] as const,
      registers,
    }),
    storeLimitBytes: new Gauge({
      name: "chat_store_limit_bytes",
      help: "Each stream's max_bytes (0: no limit); writes are refused past it.",
      labelNames: ["stream"] as const,
      registers,
    }),
    // Each stream's copies, from JetStream's stream info (read with the sizes
    // above): alerts on a stream without a leader or a replica behind.
    streamReplicas: new Gauge({
      name: "nats_jetstream_stream_replicas",
      help: "Copies each chat store stream is configured with (num_replicas).",
      labelNames: ["stream"] as const,
      registers,
    }),
    streamReplicasCurrent: new Gauge({
      name: "nats_jetstream_stream_replicas_current",
      help: "Copies of each chat store stream that are caught up: the leader and the replicas JetStream reports current.",
      labelNames: ["stream"] as const,
      registers,
    }),
    streamHasLeader: new Gauge({
      name: "nats_jetstream_stream_has_leader",
      help: "1 while a server leads the stream, 0 while none does (no quorum: it takes no writes).",
      labelNames: ["stream"] as const,
      registers,
    }),
    jetstreamAvailable: new Gauge({
      name: "nats_jetstream_available",
      help: "1 when the last scrape read the chat store's streams from JetStream, 0 when JetStream did not answer (the values above are then the last read).",
      registers,
    }),
    natsConnected: new Gauge({
      name: "nats_connected",
      help: "1 while the NATS connection is up, 0 while it is down.",
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
