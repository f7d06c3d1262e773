// The strict request checking every resource kind shares: a request body's
// fields read as Vultr reads them (a missing or empty required field is a
// 400), a missing resource is a 404, and lists page with Vultr's cursors.
// Answers are Vultr-style {"error", "status"} bodies.
import type { Json } from "./types.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** What answers one route; the load balancer routes wait for their proxy (fake-vultr/load-balancer-proxies.ts). */
export type Handler = (params: string[], body: Json, query: Record<string, string>) => Reply | Promise<Reply>;

/** Method, path pattern (its groups are the handler's params), handler. */
export type Route = [string, RegExp, Handler];

export function found<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new HttpError(404, message);
  return value;
}

export function text(body: Json, key: string): string {
  const value = body[key];
  if (typeof value !== "string" || value === "") throw new HttpError(400, `Missing or invalid ${key}`);
  return value;
}

export function optionalText(body: Json, key: string): string {
  const value = body[key];
  return typeof value === "string" ? value : "";
}

export function texts(body: Json, key: string): string[] {
  const value = body[key];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One page of a list, under `key`, with Vultr's base64 `next__N` cursors and `meta`. */
export function list(key: string, items: unknown[], query: Record<string, string>): Reply {
  const perPage = query.per_page === undefined ? 100 : Number(query.per_page);
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 500) throw new HttpError(400, "Invalid per_page");
  let offset = 0;
  if (query.cursor) {
    const match = /^next__(\d+)$/.exec(Buffer.from(query.cursor, "base64").toString("utf8"));
    if (!match) throw new HttpError(400, "Invalid cursor");
    offset = Number(match[1]);
  }
  const page = items.slice(offset, offset + perPage);
  const cursor = (at: number) => Buffer.from(`next__${at}`).toString("base64");
  const next = offset + perPage < items.length ? cursor(offset + perPage) : "";
  const prev = offset > 0 ? Buffer.from(`prev__${Math.max(0, offset - perPage)}`).toString("base64") : "";
  return { status: 200, body: { [key]: page, meta: { total: items.length, links: { next, prev } } } };
}

export function errorReply(status: number, message: string): Reply {
  return { status, body: { error: message, status } };
}

/** A record without the fake's bookkeeping. */
export function bare<T extends { fake: unknown }>(value: T): Omit<T, "fake"> {
  const rest: Partial<T> = { ...value };
  delete rest.fake;
  return rest as Omit<T, "fake">;
}

/** A timestamp as Vultr writes it. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "+00:00");
}
