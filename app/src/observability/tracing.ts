// OpenTelemetry traces over OTLP/HTTP when TRACING_ENABLED is true. Spans are
// made explicitly (one per HTTP request, one per model call) rather than by
// auto-instrumentation, which cannot patch modules inside a single bundle.
import { trace, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

export interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

export function startTracing(options: { enabled: boolean; endpoint?: string; instanceId: string }): Tracing {
  if (!options.enabled || !options.endpoint) {
    return { tracer: trace.getTracer("noop"), shutdown: async () => undefined };
  }
  const url = options.endpoint.replace(/\/+$/, "").replace(/(\/v1\/traces)?$/, "/v1/traces");
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      "service.name": "conversational-platform-api",
      "service.instance.id": options.instanceId,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 })],
  });
  // Registers the W3C trace-context propagator too, so a caller's
  // `traceparent` becomes the parent of our spans.
  provider.register();
  return { tracer: provider.getTracer("conversational-platform-api"), shutdown: () => provider.shutdown() };
}
