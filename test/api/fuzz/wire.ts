// Sends the fuzzer's requests to Caddy over HTTPS on kept-alive connections
// (at most `concurrency` at once) and reads each answer whole, decoded from
// whatever content encoding Caddy chose.
import { Agent, request } from "node:https";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { decompress as zstdDecompress } from "fzstd";
import type { WireRequest } from "./to-wire.js";

export interface WireResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body, decoded; undefined if its encoding could not be decoded. */
  body?: Buffer;
  /** The client hung up on an event stream once it had the headers: no body was read. */
  hungUp?: true;
  ms: number;
}

export interface WireFailure {
  /** The request got no whole answer: a reset, a closed connection, or no answer in time. */
  error: string;
  ms: number;
}

export class CaddyClient {
  private readonly agent: Agent;

  constructor(
    private readonly port: number,
    ca: Buffer,
    concurrency: number,
    private readonly timeoutMs: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca, servername: "localhost" });
  }

  async send(wire: WireRequest): Promise<WireResponse | WireFailure> {
    const first = await this.once(wire);
    // A kept-alive connection the server closed just as this request went
    // out: the request never reached it, and any client retries that.
    if ("error" in first && first.reusedSocket && /ECONNRESET|socket hang up/.test(first.error)) {
      return this.once(wire);
    }
    return first;
  }

  close(): void {
    this.agent.destroy();
  }

  private once(wire: WireRequest): Promise<WireResponse | (WireFailure & { reusedSocket: boolean })> {
    const started = Date.now();
    return new Promise((resolve) => {
      const headers: Record<string, string> = { ...wire.headers };
      // Node frames a body in chunks by itself only for methods that usually
      // have one: a GET's would reach the server as the start of the next request.
      if (wire.body !== undefined) {
        if (wire.chunked) headers["transfer-encoding"] = "chunked";
        else headers["content-length"] = String(wire.body.length);
      }
      let settled = false;
      let req: ReturnType<typeof request>;
      try {
        req = request({
          method: wire.method,
          host: "127.0.0.1",
          port: this.port,
          path: wire.path,
          headers,
          agent: this.agent,
          servername: "localhost",
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        // Node's client refused to send it (a character it does not allow): the generator's mistake.
        resolve({ error: `not sent: ${(err as Error).message}`, ms: 0, reusedSocket: false });
        return;
      }
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        resolve({
          error: `${(err as NodeJS.ErrnoException).code ?? ""} ${err.message}`.trim(),
          ms: Date.now() - started,
          reusedSocket: req.reusedSocket,
        });
      };
      req.on("error", fail);
      req.on("response", (res) => {
        if (wire.hangUp && String(res.headers["content-type"]).startsWith("text/event-stream")) {
          settled = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, hungUp: true, ms: Date.now() - started });
          req.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", fail);
        res.on("end", () => {
          if (settled) return;
          settled = true;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: decode(Buffer.concat(chunks), res.headers["content-encoding"]),
            ms: Date.now() - started,
          });
        });
      });
      if (wire.body === undefined) {
        req.end();
      } else if (wire.chunked) {
        // Several chunks, as a client streaming its body does.
        const step = Math.max(1, Math.ceil(wire.body.length / 3));
        for (let at = 0; at < wire.body.length; at += step) req.write(wire.body.subarray(at, at + step));
        req.end();
      } else {
        req.end(wire.body);
      }
    });
  }
}

function decode(raw: Buffer, encoding: string | undefined): Buffer | undefined {
  // A HEAD's answer names the encoding its GET would have.
  if (raw.length === 0) return raw;
  try {
    switch (encoding?.trim().toLowerCase()) {
      case undefined:
      case "":
      case "identity":
        return raw;
      case "gzip":
        return gunzipSync(raw);
      case "br":
        return brotliDecompressSync(raw);
      case "deflate":
        return inflateSync(raw);
      case "zstd":
        return Buffer.from(zstdDecompress(raw));
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}
