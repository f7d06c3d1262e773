// An open server-sent-events response: headers, keep-alive comments, and a
// signal when the client goes away before the stream ends.
import { PassThrough } from "node:stream";
import type { FastifyReply } from "fastify";
import type { Metrics } from "../observability/metrics.js";
import type { StreamEvent } from "../store/records.js";
import { formatEvent, KEEP_ALIVE, SSE_HEADERS } from "./sse.js";

export interface EventStream {
  send(event: StreamEvent): void;
  end(): void;
  /** Called once if the client disconnects before `end()`. */
  onClientGone(handler: () => void): void;
  readonly ended: boolean;
}

export function openEventStream(
  reply: FastifyReply,
  options: { keepAliveMs: number; metrics: Pick<Metrics, "activeStreams">; headers?: Record<string, string> },
): EventStream {
  const body = new PassThrough();
  const goneHandlers: Array<() => void> = [];
  let ended = false;
  options.metrics.activeStreams.inc();
  const keepAlive = setInterval(() => body.write(KEEP_ALIVE), options.keepAliveMs);

  const finish = () => {
    clearInterval(keepAlive);
    options.metrics.activeStreams.dec();
  };
  reply.raw.on("close", () => {
    if (ended) return;
    ended = true;
    finish();
    for (const handler of goneHandlers) handler();
  });

  reply
    .code(200)
    .headers({ ...SSE_HEADERS, ...options.headers })
    .send(body);
  // Headers now, not with the first event: clients and proxies see the
  // stream is open even while the model is still thinking.
  reply.raw.flushHeaders();

  return {
    send(event) {
      if (!ended) body.write(formatEvent(event));
    },
    end() {
      if (ended) return;
      ended = true;
      finish();
      body.end();
    },
    onClientGone(handler) {
      goneHandlers.push(handler);
    },
    get ended() {
      return ended;
    },
  };
}
