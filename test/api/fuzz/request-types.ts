// What a fuzz request is, symbolically: who it claims to be, where it goes
// (conversations named as "the other user's third", not by id), its
// headers and its body. The generators build these; to-wire.ts resolves one.

export const USERS = ["alice", "bob"] as const;
export type User = (typeof USERS)[number];

/** Who a request claims to be: the two users' tokens, and every kind of bad one. */
export type TokenKind =
  | { kind: "valid"; user: User }
  /** `exp` in the year 9999: accepted today (tokens have no maximum lifetime). */
  | { kind: "far-future"; user: User }
  | { kind: BadTokenKind; user: User }
  | { kind: "garbage"; value: string }
  | { kind: "none" };

export const BAD_TOKEN_KINDS = [
  "expired",
  "not-yet-valid",
  "no-exp",
  "wrong-secret",
  "hs512",
  "rs256",
  "alg-none",
  "empty-sub",
  "long-sub",
  "tampered",
] as const;
export type BadTokenKind = (typeof BAD_TOKEN_KINDS)[number];

export interface Auth {
  /** "Bearer" in any case is the scheme the API takes. */
  scheme: string;
  separator: string;
  token: TokenKind;
}

/** Whose conversation: the user the token names, or the other one. */
export type Whose = "own" | "other's";

/** A conversation id: one a user created (picked among theirs when sent), one deleted, nobody's, or not an id at all. */
export type IdRef =
  | { kind: "conversation"; of: Whose; pick: number }
  | { kind: "deleted"; pick: number }
  | { kind: "uuid"; value: string }
  | { kind: "raw"; segment: string };

/** An answer's id: one in the conversation in the path, one of a user's anywhere, or any id shape. */
export type ReplyRef = { kind: "reply"; in: "this conversation" | Whose; pick: number } | IdRef;

export type Target =
  | { route: "health" }
  | { route: "metrics"; path: string }
  | { route: "conversations"; query?: string }
  | { route: "conversation"; id: IdRef }
  | { route: "messages"; id: IdRef }
  | { route: "stream"; id: IdRef; reply: ReplyRef; query?: string }
  /** A real route's path, bent: a trailing slash, another case, a dot segment, an encoded letter... */
  | { route: "near-miss"; base: Exclude<Target, { route: "near-miss" | "raw" }>; bend: Bend }
  | { route: "raw"; path: string };

export const BENDS = [
  "trailing-slash",
  "double-slash",
  "upper-case",
  "dot-segment",
  "dot-dot",
  "encoded-letter",
  "encoded-slash",
  "semicolon",
  "v2",
  "no-version",
  "extra-segment",
  "fragment",
] as const;
export type Bend = (typeof BENDS)[number];

export type Body =
  | { kind: "none" }
  | { kind: "json"; value: unknown }
  | { kind: "text"; text: string }
  /** Anything, invalid UTF-8 included. */
  | { kind: "bytes"; bytes: number[] }
  /** `[[[...]]]` or `{"a":{"a":...}}`, optionally under a key the JSON parser refuses. */
  | { kind: "nested"; depth: number; shape: "array" | "object"; underKey?: "__proto__" | "constructor" | "content" }
  /** A string field (or the whole body) of this many characters. */
  | { kind: "huge"; chars: number; field: "content" | "title" | "whole" }
  /** A JSON body compressed, with or without saying so. */
  | { kind: "compressed"; encoding: "gzip" | "br" | "deflate"; inner: unknown };

export interface Headers {
  contentType?: string;
  contentEncoding?: string;
  accept?: string;
  acceptEncoding?: string;
  /** Unset: the site's own host. */
  host?: string;
  xForwardedFor?: string;
  lastEventId?: string;
  /** One long header, of this many bytes. */
  padding?: number;
  extra: Array<[string, string]>;
  /** Sent in chunks with no Content-Length. */
  chunked: boolean;
  /** An event stream's client that hangs up once it has the headers, as a closed browser tab does. */
  hangUp: boolean;
}

export interface FuzzRequest {
  method: string;
  target: Target;
  auth?: Auth;
  headers: Headers;
  body: Body;
}

export interface Limits {
  maxMessageChars: number;
  bodyLimitBytes: number;
  allowedModels: string[];
}
