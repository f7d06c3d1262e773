// Every error leaves as {"error":{"code","message"}} with a status that fits,
// including Fastify's own (bad JSON, body too large, schema violations).
import { storeHttpError, StoreError } from "./store-errors-http.js";
import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).type("application/json; charset=utf-8").send({ error: { code, message } });
}

const FASTIFY_CODES: Record<string, { code: string; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "Send the body as application/json." },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "invalid_request",
    message: "The Content-Length does not match the body.",
  },
};

export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof StoreError) {
      request.log.warn({ err }, "the chat store refused a request");
      err = storeHttpError(err) as unknown as FastifyError;
    }
    if (err instanceof HttpError) {
      return sendError(reply.headers(err.headers), err.statusCode, err.code, err.message);
    }
    if (err.validation) {
      // An empty body reaches the schema as no body (json-body.ts).
      const message =
        err.validationContext === "body" && request.body === undefined
          ? "Invalid request: the body is missing; send a JSON object."
          : `Invalid request: ${err.message}.`;
      return sendError(reply, 400, "invalid_request", message);
    }
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return discardRestOfBody(request.raw).then((whole) => {
        if (whole) sendError(reply, 413, "payload_too_large", "The request body is too large.");
        // Nothing to answer on a closed connection.
        else reply.hijack();
      });
    }
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return sendError(reply, err.statusCode ?? 400, known.code, known.message);
    if (err.statusCode === 400 || err instanceof SyntaxError) {
      return sendError(reply, 400, "invalid_json", "The body is not valid JSON.");
    }
    request.log.error({ err }, "request failed");
    return sendError(reply, 500, "internal_error", "Something went wrong on our side; it has been logged.");
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, "not_found", `No route for ${request.method} ${request.url.split("?")[0]}.`),
  );
}

// A client refused with 413 may go on sending this long, and this much,
// before its connection is cut: enough for a body of a few megabytes sent by
// mistake, and bounded, as a client could otherwise send for ever.
const DISCARD_LIMIT_MS = 30_000;
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Fastify refuses a body over the limit before reading it. Answering then and
 * closing the connection, as Fastify asks, makes the kernel answer the bytes
 * still arriving with a reset, which can reach the client before it has read
 * the 413: it sees ECONNRESET or EPIPE instead, and Caddy a broken upstream.
 * So the rest of the body is read and thrown away first; resolves to false
 * when the client went away or sent past the limits (its socket is closed).
 */
function discardRestOfBody(raw: IncomingMessage): Promise<boolean> {
  if (raw.complete) return Promise.resolve(true);
  return new Promise((resolve) => {
    let received = 0;
    const finish = (whole: boolean) => {
      clearTimeout(timer);
      raw.off("data", count);
      raw.off("end", ended);
      raw.off("close", closed);
      if (!whole) raw.socket.destroy();
      resolve(whole);
    };
    const count = (chunk: Buffer) => {
      received += chunk.length;
      if (received > DISCARD_LIMIT_BYTES) finish(false);
    };
    const ended = () => finish(true);
    const closed = () => finish(raw.complete);
    const timer = setTimeout(() => finish(false), DISCARD_LIMIT_MS);
    raw.on("data", count);
    raw.once("end", ended);
    raw.once("close", closed);
    raw.resume();
  });
}
