// What Node reports about a connection before a request reaches Fastify: a
// request whose headers or body did not arrive within REQUEST_TIMEOUT (a
// slow client holding a connection open), headers too large, bytes that are
// not HTTP. Answered in the API's JSON error shape while nothing of a
// response has gone out yet, then the connection is closed.
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";

interface ClientError extends Error {
  code?: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

function clientErrorAnswer(code: string | undefined, requestTimeoutMs: number) {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return {
      status: 408,
      code: "request_timeout",
      message: `The request's headers and body did not arrive within ${requestTimeoutMs / 1000}s (REQUEST_TIMEOUT); send it again.`,
    };
  }
  if (code === "HPE_HEADER_OVERFLOW") {
    return { status: 431, code: "headers_too_large", message: "The request's headers are too large." };
  }
  return { status: 400, code: "invalid_request", message: "The request is not valid HTTP." };
}

export function clientErrorHandler(requestTimeoutMs: number) {
  return function (this: FastifyInstance, err: ClientError, socket: Socket): void {
    if (err.code === "ECONNRESET" || socket.destroyed) return;
    const answer = clientErrorAnswer(err.code, requestTimeoutMs);
    this.log.debug({ err, remoteAddress: socket.remoteAddress, status: answer.status }, "connection closed");
    // The response in flight on this socket, if any (Node keeps it there):
    // once its headers went out, another status line would corrupt it.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
      socket.write(
        `HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}
