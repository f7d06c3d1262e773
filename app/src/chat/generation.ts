// One answer being generated. It runs apart from the request that started
// it: the client's connection is just one listener, so a disconnect does not
// have to stop it, and every event also goes to JetStream for resumes and
// history.
import { context, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { classifyUpstreamError, UpstreamIdleTimeout } from "../providers/errors.js";
import type { ChatTurn, LlmProvider } from "../providers/types.js";
import type { Metrics } from "../observability/metrics.js";
import type { ChatStore } from "../store/chat-store.js";
import type { StreamEvent, Usage } from "../store/records.js";

export interface GenerationContext {
  store: ChatStore;
  provider: LlmProvider;
  metrics: Metrics;
  tracer: Tracer;
  log: Logger;
  instanceId: string;
  leaseTtlMs: number;
  upstreamIdleTimeoutMs: number;
  maxOutputTokens: number;
}

export interface GenerationInput {
  conversationId: string;
  replyId: string;
  model: string;
  messages: ChatTurn[];
  startedAt: number;
  /** The request's span, so the model call shows inside it in a trace. */
  parentSpan?: Span;
}

type StopCause = "client" | "shutdown" | "idle";
type Listener = (event: StreamEvent) => void;

export class Generation {
  private readonly listeners = new Set<Listener>();
  private readonly abort = new AbortController();
  private stopCause: StopCause | undefined;
  readonly finished: Promise<void>;

  constructor(
    private readonly ctx: GenerationContext,
    readonly input: GenerationInput,
  ) {
    this.finished = this.run();
  }

  /** Receives every event from now on; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops asking the model for more; what was generated is kept. */
  cancel(cause: "client" | "shutdown"): void {
    this.stop(cause);
  }

  private stop(cause: StopCause): void {
    if (this.stopCause) return;
    this.stopCause = cause;
    this.abort.abort(new Error(`generation stopped: ${cause}`));
  }

  private async run(): Promise<void> {
    const { ctx, input } = this;
    const { provider, metrics, store, log } = ctx;
    const labels = { provider: provider.name, model: input.model };
    const span = ctx.tracer.startSpan(
      "llm.generate",
      { attributes: { "llm.provider": provider.name, "llm.model": input.model, "chat.reply_id": input.replyId } },
      input.parentSpan ? trace.setSpan(context.active(), input.parentSpan) : undefined,
    );
    metrics.activeGenerations.inc();
    let seq = 0;
    let text = "";
    const usage: Partial<Usage> = {};
    let stopReason = "end_turn";
    let terminal: StreamEvent | undefined;
    const persisting: Promise<void>[] = [];

    const emit = (event: StreamEvent) => {
      for (const listener of this.listeners) listener(event);
      persisting.push(
        store.appendEvent(input.conversationId, input.replyId, event).catch((err: unknown) => {
          log.error({ err, replyId: input.replyId, seq: event.seq }, "could not persist an answer event");
        }),
      );
    };

    const lease = setInterval(
      () => {
        store
          .holdLease(input.replyId, ctx.instanceId)
          .catch((err: unknown) => log.warn({ err }, "could not renew the generation lease"));
      },
      Math.max(250, Math.floor(ctx.leaseTtlMs / 3)),
    );
    let idle = setTimeout(() => this.stop("idle"), ctx.upstreamIdleTimeoutMs);
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => this.stop("idle"), ctx.upstreamIdleTimeoutMs);
    };

    try {
      await store.holdLease(input.replyId, ctx.instanceId);
      const events = provider.stream({
        model: input.model,
        messages: input.messages,
        maxOutputTokens: ctx.maxOutputTokens,
        signal: this.abort.signal,
      });
      for await (const event of events) {
        touch();
        if (event.type === "delta") {
          if (seq === 0) metrics.timeToFirstToken.observe(labels, (Date.now() - input.startedAt) / 1000);
          text += event.text;
          emit({ seq: ++seq, type: "delta", data: { text: event.text } });
        } else if (event.type === "usage") {
          if (event.inputTokens !== undefined) usage.inputTokens = event.inputTokens;
          if (event.outputTokens !== undefined) usage.outputTokens = event.outputTokens;
        } else {
          stopReason = event.reason;
        }
      }
      if (this.stopCause) throw this.abort.signal.reason;
    } catch (err) {
      if (this.stopCause === "client") {
        stopReason = "cancelled";
      } else {
        const failure =
          this.stopCause === "shutdown"
            ? {
                code: "server_shutdown",
                message: "The server restarted before the answer finished; send the message again.",
              }
            : classifyUpstreamError(
                this.stopCause === "idle" ? new UpstreamIdleTimeout(ctx.upstreamIdleTimeoutMs) : err,
                provider.name,
              );
        if (this.stopCause !== "shutdown") metrics.upstreamErrors.inc({ provider: provider.name, code: failure.code });
        log.warn({ err, code: failure.code, replyId: input.replyId }, "answer ended by an error");
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure.code });
        terminal = { seq: seq + 1, type: "error", data: failure };
      }
    } finally {
      clearTimeout(idle);
      clearInterval(lease);
    }

    const counted = countUsage(usage, input.messages, text, seq);
    if (counted.estimated)
      log.info({ replyId: input.replyId }, "the provider reported no usage; token counts are estimated");
    metrics.tokens.inc({ ...labels, direction: "input" }, counted.inputTokens);
    metrics.tokens.inc({ ...labels, direction: "output" }, counted.outputTokens);
    span.setAttributes({
      "llm.usage.input_tokens": counted.inputTokens,
      "llm.usage.output_tokens": counted.outputTokens,
    });

    terminal ??= {
      seq: seq + 1,
      type: "done",
      data: {
        messageId: input.replyId,
        usage: { inputTokens: counted.inputTokens, outputTokens: counted.outputTokens },
        stopReason,
      },
    };
    // The end marker goes last, after every delta is stored, so a reader that
    // sees it has seen the whole answer.
    await Promise.all(persisting);
    emit(terminal);
    await Promise.all(persisting);
    await store.releaseLease(input.replyId).catch(() => undefined);
    metrics.activeGenerations.dec();
    span.end();
  }
}

/** Provider-reported usage, or an estimate (4 characters a token) where it is missing. */
export function countUsage(
  reported: Partial<Usage>,
  prompt: readonly ChatTurn[],
  answer: string,
  deltas: number,
): Usage & { estimated: boolean } {
  const estimateIn = Math.ceil(prompt.reduce((n, t) => n + t.content.length, 0) / 4);
  const estimateOut = Math.max(deltas > 0 ? 1 : 0, Math.ceil(answer.length / 4));
  return {
    inputTokens: reported.inputTokens ?? estimateIn,
    outputTokens: reported.outputTokens ?? estimateOut,
    estimated: reported.inputTokens === undefined || reported.outputTokens === undefined,
  };
}
