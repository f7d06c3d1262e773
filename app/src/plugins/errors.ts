// Every error leaves as {"error":{"code","message"}} with a status that fits,
// including Fastify's own (bad JSON, body too large, schema violations).
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
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "The request body is too large." },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "Send the body as application/json." },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_json", message: "The body is empty; send a JSON object." },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: "invalid_request",
    message: "The Content-Length does not match the body.",
  },
};

export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof HttpError) {
      return sendError(reply.headers(err.headers), err.statusCode, err.code, err.message);
    }
    if (err.validation) {
      return sendError(reply, 400, "invalid_request", `Invalid request: ${err.message}.`);
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
