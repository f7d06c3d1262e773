// Requests refused before any route sees them leave in the same JSON error
// shape as every other error: HTTP that Node cannot parse (an unknown
// method, headers over Node's limit), a path that is not valid
// percent-encoding, a path parameter over the router's length limit.
// Fastify's own answers for these have a shape of their own, and its
// handler for unparseable HTTP closes the connection with a reset.
import { maxHeaderSize, STATUS_CODES, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { sendError } from "./errors.js";

interface ClientErrorAnswer {
  status: number;
  code: string;
  message: string;
}

const clientErrors = (requestTimeoutMs: number): Record<string, ClientErrorAnswer> => ({
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: "headers_too_large",
    message: `The request's headers are over ${Math.round(maxHeaderSize / 1024)} KB; send fewer or shorter ones.`,
  },
  // A slow client holding a connection open (REQUEST_TIMEOUT).
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: "request_timeout",
    message: `The request's headers and body did not arrive within ${requestTimeoutMs / 1000}s (REQUEST_TIMEOUT); send it again.`,
  },
});

const NOT_HTTP: ClientErrorAnswer = {
  status: 400,
  code: "invalid_request",
  message: "The request is not valid HTTP/1.1 (its method, request line or headers).",
};

/** How long a refused connection is read from, and what it sends dropped, before it is cut. */
const LINGER_MS = 5_000;

const answered = new WeakSet<Duplex>();

/**
 * Fastify's `clientErrorHandler`. Node keeps calling it for what still
 * arrives on a connection it could not parse; the first call answers.
 *
 * The connection is closed by a FIN after the answer, and what the client
 * still sends is read and dropped: a socket closed with unread bytes makes
 * the kernel send a reset, which can reach the client (or Caddy, which then
 * answers 502) before the answer does.
 */
export function clientErrorHandler(requestTimeoutMs: number) {
  const answers = clientErrors(requestTimeoutMs);
  return (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(answers, err, socket);
}

function answerClientError(answers: Record<string, ClientErrorAnswer>, err: NodeJS.ErrnoException, socket: Duplex) {
  if (err.code === "ECONNRESET" || socket.destroyed || answered.has(socket)) return;
  answered.add(socket);
  // A response already under way on this connection (a pipelined request)
  // must not get these bytes in its middle.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, code, message } = answers[err.code ?? ""] ?? NOT_HTTP;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      "Content-Type: application/json; charset=utf-8\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once("close", () => clearTimeout(cut));
  socket.resume();
}

/** Fastify's `frameworkErrors`: a URL the router cannot decode, or a path parameter over its length limit. */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === "FST_ERR_BAD_URL") {
    sendError(reply, 400, "invalid_request", "Invalid request: the path is not valid percent-encoded UTF-8.");
  } else if (error.code === "FST_ERR_MAX_PARAM_LENGTH") {
    sendError(reply, 400, "invalid_request", "Invalid request: a path segment is too long to be an id.");
  } else {
    sendError(reply, 500, "internal_error", "Something went wrong on our side; it has been logged.");
  }
}
