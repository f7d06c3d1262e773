// Server-sent events as the wire sees them. Payloads are JSON on one `data:`
// line: JSON escapes CR and LF, so no content can start a forged field or
// event.
import type { StreamEvent } from "../store/records.js";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  // Tells nginx-style proxies not to buffer; Caddy needs flush_interval -1.
  "x-accel-buffering": "no",
} as const;

export function formatEvent(event: StreamEvent): string {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export const KEEP_ALIVE = ": keep-alive\n\n";

/** `Last-Event-ID` as a sequence number; missing means "from the start". */
export function parseLastEventId(value: string | undefined): number | Error {
  if (value === undefined || value.trim() === "") return 0;
  if (!/^\d{1,9}$/.test(value.trim())) {
    return new Error("Last-Event-ID must be the numeric id of the last event received");
  }
  return Number(value.trim());
}
