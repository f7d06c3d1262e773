// The moment of a deploy when no API instance is healthy in Caddy's eyes:
// one restarting (its port refuses connections) while the other fails a
// health check. A request must wait for an instance, whatever its method;
// Caddy before 2.7.5 refused a POST at once with 503 (a GET waited), which
// cut the message of a chat stream sent then (issue 19, point 10). Real
// Caddy and the project's Caddyfile; the instances are plain HTTP servers
// whose health the test sets. Ordered by the health checks each instance has
// answered, not by a clock.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { startCaddy, type RunningCaddy } from "../../scripts/loopback/caddy.js";
import { requestJson } from "../../scripts/loopback/http-client.js";
import { freePort } from "../../scripts/loopback/ports.js";

/** An instance: /health answers 200 or 503 as set; any other request is recorded with its whole body. */
class FakeInstance {
  healthy = true;
  /** Every request other than /health whose body arrived whole. */
  readonly received: string[] = [];
  /** What it does with such a request; by default answers 200 with the method and body. */
  onRequest: (request: { method: string; body: string }, answer: (status: number, text: string) => void) => void = (
    request,
    answer,
  ) => answer(200, `${request.method} ${request.body}`);
  private checks = 0;
  private readonly waiting: Array<{ at: number; resolve: () => void }> = [];
  readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      if (req.url === "/health") {
        res.writeHead(this.healthy ? 200 : 503).end();
        this.checks++;
        for (const w of this.waiting.filter((w) => this.checks >= w.at)) {
          this.waiting.splice(this.waiting.indexOf(w), 1);
          w.resolve();
        }
        return;
      }
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        this.received.push(`${req.method} ${body}`);
        this.onRequest({ method: req.method ?? "", body }, (status, text) => res.writeHead(status).end(text));
      });
    });
  }

  async listen(): Promise<this> {
    this.port = await freePort();
    this.server.listen(this.port, "127.0.0.1");
    await once(this.server, "listening");
    return this;
  }

  /** Resolves once `count` more health checks have been answered (and so seen by Caddy). */
  checksAnswered(count: number): Promise<void> {
    return new Promise((resolve) => this.waiting.push({ at: this.checks + count, resolve }));
  }

  close(): void {
    this.server.closeAllConnections();
    this.server.close();
  }
}

describe("Caddy while no API instance is healthy", () => {
  let caddy: RunningCaddy | undefined;
  const instances: FakeInstance[] = [];
  afterEach(async () => {
    await caddy?.stop();
    for (const instance of instances.splice(0)) instance.close();
  });

  const start = async (upstreams: number[]) => {
    caddy = await startCaddy({ upstreams: upstreams.map((port) => `127.0.0.1:${port}`) });
    return caddy;
  };
  const send = (proxy: RunningCaddy, method: string, body?: string) =>
    requestJson(method, `https://localhost:${proxy.httpsPort}/v1/conversations/c1/messages`, body, {
      ca: proxy.ca(),
      headers: body === undefined ? {} : { "content-type": "application/json" },
    });

  it("holds a POST (a message) and a DELETE until an instance is healthy again, and delivers each once", async () => {
    const instance = await new FakeInstance().listen();
    instances.push(instance);
    // The other instance is restarting: nothing listens on its port.
    const proxy = await start([instance.port, await freePort()]);
    instance.healthy = false;
    // Two failed checks: Caddy has marked it unhealthy, and the restarting
    // one (checked at the same ticks) too.
    await instance.checksAnswered(2);

    const message = JSON.stringify({ content: "sent during the deploy" });
    const post = send(proxy, "POST", message);
    const remove = send(proxy, "DELETE");
    // Caddy has had the requests for two more check intervals; then the
    // instance is back, as the deploy's next step brings it.
    await instance.checksAnswered(2);
    instance.healthy = true;

    const [posted, removed] = await Promise.all([post, remove]);
    expect([posted.status, posted.text]).toEqual([200, `POST ${message}`]);
    expect([removed.status, removed.text]).toEqual([200, "DELETE "]);
    expect(instance.received.sort()).toEqual(["DELETE ", `POST ${message}`]);
  }, 60_000);

  it("never sends a POST an instance already received to another one", async () => {
    const [first, second] = [await new FakeInstance().listen(), await new FakeInstance().listen()];
    instances.push(first, second);
    second.healthy = false;
    const proxy = await start([first.port, second.port]);
    await second.checksAnswered(2);
    // The first instance takes the message and dies before answering; the
    // second is healthy from then on. Sending the message again would answer it twice.
    first.onRequest = () => {
      second.healthy = true;
      first.server.closeAllConnections();
    };
    const message = JSON.stringify({ content: "sent once" });
    const posted = await send(proxy, "POST", message);

    expect(posted.status).toBe(502);
    expect([...first.received, ...second.received]).toEqual([`POST ${message}`]);
  }, 60_000);
});
