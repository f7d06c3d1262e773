// One answer being generated. It runs apart from the request that started
// it: the client's connection is just one listener, so a disconnect does not
// have to stop it. Its events go to JetStream in batches while it runs (for
// resumes on any instance), and as one compacted record when it ends.
import { setTimeout as sleep } from "node:timers/promises";
import { context, SpanStatusCode, trace, type Span, type Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { classifyUpstreamError, UpstreamIdleTimeout } from "../providers/errors.js";
import type { ChatTurn, LlmProvider } from "../providers/types.js";
import type { Metrics } from "../observability/metrics.js";
import type { AnswerLease } from "../store/answer-slots.js";
import type { AnswerRecord, StreamEvent, TerminalEvent, Usage } from "../store/records.js";
import { StoreError } from "../store/store-errors.js";
import type { ChatRulesStore } from "./chat-deps.js";
import { modelContext, type ContextLimits } from "./context.js";
import { EventBatcher } from "./event-batcher.js";

export interface GenerationContext {
  store: ChatRulesStore;
  provider: LlmProvider;
  metrics: Metrics;
  tracer: Tracer;
  log: Logger;
  instanceId: string;
  leaseTtlMs: number;
  upstreamIdleTimeoutMs: number;
  maxOutputTokens: number;
  contextLimits: ContextLimits;
}

export interface GenerationInput {
  owner: string;
  /** The lease this answer holds on one of its owner's slots (see AnswerSlots.acquire). */
  lease: AnswerLease;
  conversationId: string;
  replyId: string;
  model: string;
  /** The context sent to the model, ending with the user's new message. */
  messages: ChatTurn[];
  /** The revision of the stored context it was built from (0: none), replaced only over it. */
  contextRevision: number;
  startedAt: number;
  /** The request's span, so the model call shows inside it in a trace. */
  parentSpan?: Span;
  /**
   * Once the answer has ended, before its client hears of it: the tokens it
   * used and its record if stored (for the user's token budget and storage
   * quota). A failure is logged; the answer ends all the same.
   */
  onEnded?: (ended: { usage: Usage; stored: AnswerRecord | null }) => Promise<void>;
}

type StopCause = "client" | "shutdown" | "idle" | "deleted";
type Listener = (event: StreamEvent) => void;

/** How long an ended answer keeps trying to store its record through a NATS outage. */
const FINISH_RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 4000];

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

  /** Stops asking the model for more; what was generated is kept (unless the conversation was deleted). */
  cancel(cause: "client" | "shutdown" | "deleted"): void {
    this.stop(cause);
  }

  private stop(cause: StopCause): void {
    if (this.stopCause) return;
    this.stopCause = cause;
    this.abort.abort(new Error(`generation stopped: ${cause}`));
  }

  private emit(event: StreamEvent): void {
    for (const listener of this.listeners) listener(event);
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
    const deltas: string[] = [];
    const usage: Partial<Usage> = {};
    let stopReason = "end_turn";
    let failure: { code: string; message: string } | undefined;
    const batcher = new EventBatcher(
      (events) => store.appendEvents(input.conversationId, input.replyId, events),
      (err, events) => {
        metrics.storeWriteFailures.inc({ record: "events", reason: storeFailureReason(err) });
        log.error(
          { err, replyId: input.replyId, seqs: [events[0]!.seq, events.at(-1)!.seq] },
          "could not store answer events; a resume may miss them until the answer ends",
        );
      },
    );

    // startAnswer took the answer's lease; keeping it is not the model's
    // business: a failed renewal is logged, never counted as an upstream
    // error. Renewed until the answer is stored (which may retry through an
    // outage), one renewal at a time (each compares the revision it holds).
    let renewing: Promise<void> | undefined;
    const leaseRenewal = setInterval(
      () => {
        renewing ??= store.slots
          .renew(input.lease, input.replyId, ctx.instanceId)
          .then((kept) => {
            if (!kept)
              log.warn({ replyId: input.replyId }, "the answer's lease lapsed and another answer has its slot now");
          })
          .catch((err: unknown) => log.warn({ err }, "could not renew the answer's lease"))
          .finally(() => (renewing = undefined));
      },
      Math.max(250, Math.floor(ctx.leaseTtlMs / 3)),
    );
    let idle = setTimeout(() => this.stop("idle"), ctx.upstreamIdleTimeoutMs);
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => this.stop("idle"), ctx.upstreamIdleTimeoutMs);
    };

    try {
      metrics.upstreamRequests.inc(labels);
      const events = provider.stream({
        model: input.model,
        messages: input.messages,
        maxOutputTokens: ctx.maxOutputTokens,
        signal: this.abort.signal,
      });
      for await (const event of events) {
        touch();
        if (event.type === "delta") {
          if (deltas.length === 0) metrics.timeToFirstToken.observe(labels, (Date.now() - input.startedAt) / 1000);
          deltas.push(event.text);
          const delta: StreamEvent = { seq: deltas.length, type: "delta", data: { text: event.text } };
          this.emit(delta);
          batcher.push(delta);
        } else if (event.type === "usage") {
          if (event.inputTokens !== undefined) usage.inputTokens = event.inputTokens;
          if (event.outputTokens !== undefined) usage.outputTokens = event.outputTokens;
        } else {
          stopReason = event.reason;
        }
      }
      if (this.stopCause) throw this.abort.signal.reason;
    } catch (err) {
      if (this.stopCause === "client" || this.stopCause === "deleted") {
        stopReason = "cancelled";
      } else {
        failure =
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
      }
    } finally {
      clearTimeout(idle);
    }

    const text = deltas.join("");
    const counted = countUsage(usage, input.messages, text, deltas.length);
    if (counted.estimated)
      log.info({ replyId: input.replyId }, "the provider reported no usage; token counts are estimated");
    metrics.tokens.inc({ ...labels, direction: "input" }, counted.inputTokens);
    metrics.tokens.inc({ ...labels, direction: "output" }, counted.outputTokens);
    span.setAttributes({
      "llm.usage.input_tokens": counted.inputTokens,
      "llm.usage.output_tokens": counted.outputTokens,
    });

    const seq = deltas.length + 1;
    const end: TerminalEvent = failure
      ? { seq, type: "error", data: failure }
      : {
          seq,
          type: "done",
          data: {
            messageId: input.replyId,
            usage: { inputTokens: counted.inputTokens, outputTokens: counted.outputTokens },
            stopReason,
          },
        };
    // The answer is stored before its end reaches the client, so a client
    // that reads the history next sees it whole.
    await batcher.drain();
    const answer: AnswerRecord = { kind: "answer", replyId: input.replyId, deltas, end };
    const stored = this.stopCause !== "deleted" && (await this.finish(answer));
    clearInterval(leaseRenewal);
    await renewing;
    // The lease is released and the context updated before the client hears of
    // the end: its next message must neither find this answer still counted
    // nor miss it in its context.
    await store.slots
      .release(input.lease)
      .catch((err: unknown) => log.warn({ err }, "could not release the answer's lease"));
    await this.keepContext(text, stored);
    await input
      .onEnded?.({ usage: counted, stored: stored ? answer : null })
      .catch((err: unknown) =>
        log.warn({ err, replyId: input.replyId }, "could not count the answer against its quotas"),
      );
    this.emit(end);
    await this.cleanUpIfDeleted();
    metrics.activeGenerations.dec();
    span.end();
  }

  /** Stores the ended answer; true when the stored record is this one (not a reader's end, not lost). */
  private async finish(answer: AnswerRecord): Promise<boolean> {
    const { store, log, metrics } = this.ctx;
    for (let attempt = 0; ; attempt++) {
      try {
        const won = await store.finishAnswer(this.input.conversationId, answer);
        if (!won) log.warn({ replyId: answer.replyId }, "a reader had ended this answer as interrupted first");
        return won;
      } catch (err) {
        const retry = FINISH_RETRY_DELAYS_MS[attempt];
        if (retry === undefined || (err instanceof StoreError && err.reason === "full")) {
          metrics.storeWriteFailures.inc({ record: "answer", reason: storeFailureReason(err) });
          log.error({ err, replyId: answer.replyId }, "could not store the ended answer; its history stays incomplete");
          return false;
        }
        await sleep(retry);
      }
    }
  }

  /**
   * Keeps the context for the next message. It holds the answer only when
   * the history does (`stored`); otherwise it is dropped, and the next
   * message rebuilds it from the log.
   */
  private async keepContext(text: string, stored: boolean): Promise<void> {
    const { store, log, contextLimits } = this.ctx;
    const { conversationId, replyId } = this.input;
    try {
      if (stored) {
        const turns = modelContext([...this.input.messages, { role: "assistant", content: text }], contextLimits);
        if (!(await store.contexts.put(conversationId, turns, this.input.contextRevision)))
          log.info({ replyId }, "another answer changed the context meanwhile; the next message rebuilds it");
      } else if (this.stopCause !== "deleted") {
        await store.contexts.forget(conversationId);
      }
    } catch (err) {
      log.warn({ err, replyId }, "could not keep the conversation's context");
    }
  }

  /**
   * A delete that ran while this answer was writing removed the log before
   * the last writes landed: whoever comes last removes it all.
   */
  private async cleanUpIfDeleted(): Promise<void> {
    const { store, log } = this.ctx;
    const { owner, conversationId, replyId } = this.input;
    try {
      if (!(await store.getConversation(owner, conversationId))) await store.purgeConversationData(conversationId);
    } catch (err) {
      log.warn({ err, replyId }, "could not check the conversation after the answer");
    }
  }
}

function storeFailureReason(err: unknown): "full" | "unavailable" {
  return err instanceof StoreError ? err.reason : "unavailable";
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
