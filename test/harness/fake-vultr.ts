// A local fake of the Vultr API v2 for the provider tests: state in memory,
// Vultr's paths, JSON field names, status codes and {"error", "status"}
// bodies (as in github.com/vultr/govultr/v3 and its tests), cursor
// pagination, the bearer key, and the behaviours the providers must cope
// with: instances pending with main_ip 0.0.0.0 before turning active, then
// locked for a while after a create or a resize, a reserved IP held by one
// instance at a time and let go some time after that instance is deleted,
// Object Storage refusing a create without a tier, VPCs that give their
// instances private addresses and cannot be deleted while in use, load
// balancers pending before they turn active, Vultr's texts for missing
// objects, and injected 429/5xx answers (also after carrying a request out). Messages Vultr's own
// sources do not show are close approximations. Every request is recorded.
// With options.loadBalancerProxies, each load balancer is also a real
// HAProxy on loopback, configured from it (fake-vultr/load-balancer-proxies.ts).
//
// This file is the server: recording, injected failures, the bearer key and
// dispatch. Each resource kind's routes are in fake-vultr/, the request
// checking they share in fake-vultr/strict.ts; every route must be an
// operation of Vultr's published API (fake-vultr/api-schema.ts), and body
// fields that operation does not take are refused (fake-vultr/api-check.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { schemaRefusal } from "./fake-vultr/api-check.js";
import { createContext, type FakeContext } from "./fake-vultr/context.js";
import { dnsRoutes } from "./fake-vultr/dns.js";
import { firewallRoutes } from "./fake-vultr/firewalls.js";
import { instanceRoutes } from "./fake-vultr/instances.js";
import { loadBalancerRoutes } from "./fake-vultr/load-balancers.js";
import { objectStorageRoutes } from "./fake-vultr/object-storage.js";
import { reservedIpRoutes } from "./fake-vultr/reserved-ips.js";
import { sshKeyRoutes } from "./fake-vultr/ssh-keys.js";
import { vpcRoutes } from "./fake-vultr/vpcs.js";
import { errorReply, HttpError, isObject, type Reply, type Route } from "./fake-vultr/strict.js";
import type { FakeVultr, FakeVultrOptions, InjectedFailure, RecordedRequest } from "./fake-vultr/types.js";

export * from "./fake-vultr/catalogue.js";
export type * from "./fake-vultr/types.js";

/** Every route the fake serves, kind by kind. */
export function fakeRoutes(ctx: FakeContext): Route[] {
  return [
    ...instanceRoutes(ctx),
    ...firewallRoutes(ctx),
    ...sshKeyRoutes(ctx),
    ...reservedIpRoutes(ctx),
    ...dnsRoutes(ctx),
    ...objectStorageRoutes(ctx),
    ...vpcRoutes(ctx),
    ...loadBalancerRoutes(ctx),
  ];
}

export async function startFakeVultr(options: FakeVultrOptions = {}): Promise<FakeVultr> {
  const apiKey = options.apiKey ?? "fake-vultr-key-0123456789ABCDEF";
  const ctx = createContext(options);
  const requests: RecordedRequest[] = [];
  const injected: (InjectedFailure & { times: number })[] = [];
  const routes = fakeRoutes(ctx);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const raw = await readBody(req);
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body: undefined,
      authorization: req.headers.authorization,
      status: 0,
    };
    requests.push(record);
    const reply = (answer: Reply) => {
      record.status = answer.status;
      record.response = answer.body;
      send(res, answer);
    };
    try {
      record.body = raw === "" ? undefined : JSON.parse(raw);
    } catch {
      reply(errorReply(400, "Invalid JSON"));
      return;
    }

    const failure = injected.find(
      (f) =>
        (f.method === undefined || f.method === method) &&
        (f.path === undefined || (typeof f.path === "string" ? f.path === url.pathname : f.path.test(url.pathname))),
    );
    // An injected failure answers instead of the route, or (afterHandling) after it ran.
    let override: Reply | undefined;
    if (failure) {
      failure.times -= 1;
      if (failure.times <= 0) injected.splice(injected.indexOf(failure), 1);
      const answer = failure.body === undefined ? errorReply(failure.status, defaultMessage(failure.status)) : failure;
      override = { status: failure.status, body: answer.body, headers: failure.headers };
      if (!failure.afterHandling) {
        reply(override);
        return;
      }
    }

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      reply(errorReply(401, "Invalid API token."));
      return;
    }

    for (const [routeMethod, pattern, handler] of routes) {
      const match = pattern.exec(url.pathname);
      if (!match || routeMethod !== method) continue;
      const refusal = schemaRefusal(method, url.pathname, record.body);
      if (refusal) {
        reply(refusal);
        return;
      }
      const body = isObject(record.body) ? record.body : {};
      try {
        const handled = await handler(match.slice(1), body, record.query);
        reply(override ?? handled);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        reply(override ?? errorReply(error.status, error.message));
      }
      return;
    }
    reply(errorReply(404, "Not found"));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, errorReply(500, `fake-vultr bug: ${String(error)}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    state: ctx.state,
    requestsTo: (method, path) =>
      requests.filter((r) => r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path))),
    inject: (failure) => void injected.push({ ...failure, times: failure.times ?? 1 }),
    setInstanceIpv4: (address) => void (ctx.nextIpv4 = () => address),
    setPendingPolls: (polls) => void (ctx.pendingPolls = polls),
    loadBalancerProxy: (id) => ctx.proxies?.get(id),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await ctx.proxies?.stopAll();
    },
  };
}

function defaultMessage(status: number): string {
  if (status === 429) return "Rate limit reached - please try your request again later.";
  if (status >= 500) return "Internal server error";
  return "Injected failure";
}

function send(res: ServerResponse, { status, body, headers }: Reply): void {
  if (body === undefined) {
    res.writeHead(status, headers).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
