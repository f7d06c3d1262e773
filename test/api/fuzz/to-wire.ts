// A fuzz request resolved into bytes on the wire: its symbolic ids looked
// up in what the store holds when it goes out, its path bent, its body
// encoded.
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import {
  USERS,
  type Bend,
  type Body,
  type FuzzRequest,
  type IdRef,
  type ReplyRef,
  type Target,
  type TokenKind,
  type User,
  type Whose,
} from "./request-types.js";

/** What the fuzzer knows of the store when a request goes out. */
export interface Lookup {
  conversationsOf(user: User): readonly string[];
  repliesOf(user: User): ReadonlyArray<{ conversationId: string; replyId: string }>;
  repliesIn(conversationId: string): readonly string[];
  deleted(): readonly string[];
  /** A token of this kind, signed at set-up (tokens are signed asynchronously). */
  token(kind: Exclude<TokenKind, { kind: "garbage" | "none" }>): string;
}

export interface WireRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  chunked: boolean;
  hangUp: boolean;
  /** The user whose token this is, if the API should accept it. */
  as?: User;
  /** The Host is the site's: Caddy passes the request on to the API. */
  site: boolean;
  /** The route the path was made from (bent or not: the router may take it all the same). */
  route: Target["route"];
  /** The conversation the path names (a UUID), for the ownership checks. */
  conversationId?: string;
  replyId?: string;
}

function choose<T>(items: readonly T[], n: number): T | undefined {
  return items.length === 0 ? undefined : items[n % items.length];
}

/** What ids resolve against: the store as the fuzzer knows it, and the user the token names. */
interface Scope {
  lookup: Lookup;
  self: User;
}

function whose(of: Whose, self: User): User {
  return of === "own" ? self : USERS.find((u) => u !== self)!;
}

function resolveId(ref: IdRef, { lookup, self }: Scope): string {
  switch (ref.kind) {
    case "conversation": {
      const ids = lookup.conversationsOf(whose(ref.of, self));
      return choose(ids, ref.pick) ?? choose(lookup.deleted(), ref.pick) ?? ZERO_UUID;
    }
    case "deleted":
      return choose(lookup.deleted(), ref.pick) ?? ZERO_UUID;
    case "uuid":
      return ref.value;
    case "raw":
      return ref.segment;
  }
}

const ZERO_UUID = "00000000-0000-4000-8000-000000000000";

function resolveReply(ref: ReplyRef, conversationId: string, scope: Scope): string {
  if (ref.kind !== "reply") return resolveId(ref, scope);
  const here = scope.lookup.repliesIn(conversationId);
  const elsewhere = scope.lookup.repliesOf(whose(ref.in === "other's" ? "other's" : "own", scope.self));
  const replyId = ref.in === "this conversation" ? choose(here, ref.pick) : choose(elsewhere, ref.pick)?.replyId;
  return replyId ?? choose(elsewhere, ref.pick)?.replyId ?? ZERO_UUID;
}

function pathOf(t: Exclude<Target, { route: "near-miss" | "raw" }>, scope: Scope) {
  switch (t.route) {
    case "health":
      return { path: "/health" };
    case "metrics":
      return { path: t.path };
    case "conversations":
      return { path: `/v1/conversations${t.query ? `?${t.query}` : ""}` };
    case "conversation": {
      const id = resolveId(t.id, scope);
      return { path: `/v1/conversations/${id}`, conversationId: id };
    }
    case "messages": {
      const id = resolveId(t.id, scope);
      return { path: `/v1/conversations/${id}/messages`, conversationId: id };
    }
    case "stream": {
      // An answer and its own conversation, when both are asked for: most conversations have none.
      const pair =
        t.id.kind === "conversation" && t.reply.kind === "reply" && t.reply.in === "this conversation"
          ? choose(scope.lookup.repliesOf(whose(t.id.of, scope.self)), t.reply.pick)
          : undefined;
      const id = pair?.conversationId ?? resolveId(t.id, scope);
      const replyId = pair?.replyId ?? resolveReply(t.reply, id, scope);
      const query = t.query ? `?${t.query}` : "";
      return { path: `/v1/conversations/${id}/messages/${replyId}/stream${query}`, conversationId: id, replyId };
    }
  }
}

function bend(path: string, how: Bend): string {
  const [pathname, query] = path.split("?", 2) as [string, string | undefined];
  const q = query === undefined ? "" : `?${query}`;
  switch (how) {
    case "trailing-slash":
      return `${pathname}/${q}`;
    case "double-slash":
      return `${pathname.replace("/", "//")}${q}`;
    case "upper-case":
      return `${pathname.toUpperCase()}${q}`;
    case "dot-segment":
      return `${pathname.replace(/\/([^/]*)$/, "/./$1")}${q}`;
    case "dot-dot":
      return `${pathname}/../..${q}`;
    case "encoded-letter":
      return `${pathname.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)}${q}`;
    case "encoded-slash":
      return `${pathname.replace(/\/([^/]*)$/, "%2F$1")}${q}`;
    case "semicolon":
      return `${pathname};jsessionid=1${q}`;
    case "v2":
      return `${pathname.replace("/v1", "/v2")}${q}`;
    case "no-version":
      return `${pathname.replace("/v1", "")}${q}`;
    case "extra-segment":
      return `${pathname}/extra${q}`;
    case "fragment":
      return `${pathname}#frag${q}`;
  }
}

function tokenText(kind: TokenKind, lookup: Lookup): string | undefined {
  if (kind.kind === "none") return undefined;
  if (kind.kind === "garbage") return kind.value;
  return lookup.token(kind);
}

function bodyBytes(body: Body): { bytes?: Buffer; encoding?: string } {
  switch (body.kind) {
    case "none":
      return {};
    case "json":
      return { bytes: Buffer.from(JSON.stringify(body.value) ?? "") };
    case "text":
      return { bytes: Buffer.from(body.text) };
    case "bytes":
      return { bytes: Buffer.from(body.bytes) };
    case "nested": {
      const [open, close] = body.shape === "array" ? ["[", "]"] : ['{"a":', "}"];
      const inner = `${open.repeat(body.depth)}1${close.repeat(body.depth)}`;
      return { bytes: Buffer.from(body.underKey ? `{"${body.underKey}":${inner}}` : inner) };
    }
    case "huge": {
      const text = "x".repeat(body.chars);
      if (body.field === "whole") return { bytes: Buffer.from(JSON.stringify(text)) };
      return { bytes: Buffer.from(JSON.stringify({ [body.field]: text })) };
    }
    case "compressed": {
      const json = Buffer.from(JSON.stringify(body.inner));
      const compress = { gzip: gzipSync, br: brotliCompressSync, deflate: deflateSync }[body.encoding];
      return { bytes: compress(json), encoding: body.encoding };
    }
  }
}

/** The request as bytes on the wire, its ids resolved against what the store holds now. */
export function toWire(request: FuzzRequest, lookup: Lookup, siteHost: string): WireRequest {
  const t = request.target;
  const token = request.auth?.token;
  const scope: Scope = { lookup, self: token && "user" in token ? token.user : "alice" };
  let resolved: { path: string; conversationId?: string; replyId?: string };
  let route: Target["route"] = t.route;
  if (t.route === "raw") {
    resolved = { path: t.path };
  } else if (t.route === "near-miss") {
    const base = pathOf(t.base, scope);
    resolved = { ...base, path: bend(base.path, t.bend) };
    route = t.base.route;
  } else {
    resolved = pathOf(t, scope);
  }

  const h = request.headers;
  const headers: Record<string, string> = {};
  for (const [name, value] of h.extra) headers[name] = value;
  headers.host = h.host ?? siteHost;
  const { bytes, encoding } = bodyBytes(request.body);
  if (h.contentType !== undefined) headers["content-type"] = h.contentType;
  else if (bytes !== undefined) headers["content-type"] = "application/json";
  const contentEncoding = h.contentEncoding ?? encoding;
  if (contentEncoding !== undefined) headers["content-encoding"] = contentEncoding;
  if (h.accept !== undefined) headers.accept = h.accept;
  if (h.acceptEncoding !== undefined) headers["accept-encoding"] = h.acceptEncoding;
  if (h.xForwardedFor !== undefined) headers["x-forwarded-for"] = h.xForwardedFor;
  if (h.lastEventId !== undefined) headers["last-event-id"] = h.lastEventId;
  if (h.padding !== undefined) headers["x-fuzz-padding"] = "p".repeat(h.padding);

  let as: User | undefined;
  if (request.auth) {
    const token = tokenText(request.auth.token, lookup);
    headers.authorization = `${request.auth.scheme}${request.auth.separator}${token ?? ""}`;
    const kind = request.auth.token;
    const bearer = /^bearer$/i.test(request.auth.scheme) && /^\s+$/.test(request.auth.separator);
    if (bearer && (kind.kind === "valid" || kind.kind === "far-future")) as = kind.user;
  }
  const isId = (s: string | undefined) => (s && UUID.test(s) ? s : undefined);
  return {
    method: request.method,
    path: resolved.path,
    headers,
    body: bytes,
    chunked: request.headers.chunked,
    hangUp: request.headers.hangUp,
    as,
    site: isSiteHost(headers.host),
    route,
    conversationId: isId(resolved.conversationId),
    replyId: isId(resolved.replyId),
  };
}

/** The Host names Caddy's site (host names match in any case, whatever the port). */
export function isSiteHost(host: string | undefined): boolean {
  return host !== undefined && /^localhost(:\d+)?$/i.test(host);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
