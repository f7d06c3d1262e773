// A small client for the Vultr API v2 over the global fetch: bearer key,
// bounded retries of what Vultr asks us to retry (429) or fails on its side
// (5xx), cursor pagination, and errors that say which call failed and what
// Vultr answered. It never puts the key or a request body in an error, since
// bodies carry user data and SSH keys.
import { setTimeout as sleep } from "node:timers/promises";
import { classifyVultrError, VultrApiError, VultrUnreachableError } from "./errors.js";

export { VultrApiError, VultrUnreachableError } from "./errors.js";

export const DEFAULT_VULTR_API_URL = "https://api.vultr.com";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface VultrClientOptions {
  apiKey: string;
  /** Scheme and host of the API; paths start with /v2. @default "https://api.vultr.com" */
  baseUrl?: string;
  /**
   * Extra attempts after a 429, or after a 5xx or a network error except on
   * POST (a create that may have been carried out: see create-once.ts). @default 3
   */
  maxRetries?: number;
  /** First backoff; doubled on each retry. @default 500 */
  retryBaseDelayMs?: number;
  /** Cap on one backoff, also on a Retry-After the API sends. @default 10000 */
  retryMaxDelayMs?: number;
  /** One attempt's time limit. @default 60000 */
  requestTimeoutMs?: number;
}

/** The pagination block of Vultr's list answers (govultr meta.go). */
export interface VultrMeta {
  total: number;
  links: { next: string; prev: string };
}

export interface ListOptions {
  /** Items per page; Vultr allows up to 500. @default 100 */
  perPage?: number;
  query?: Record<string, string>;
}

export class VultrClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly requestTimeoutMs: number;

  constructor(options: VultrClientOptions) {
    if (!options.apiKey) throw missingKeyError();
    this.apiKey = options.apiKey;
    this.baseUrl = normaliseBaseUrl(options.baseUrl ?? DEFAULT_VULTR_API_URL);
    this.maxRetries = options.maxRetries ?? 3;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 10_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  }

  /** The client the providers use: VULTR_API_KEY and VULTR_API_URL from the environment. */
  static fromEnv(
    env: NodeJS.ProcessEnv = process.env,
    options: Omit<VultrClientOptions, "apiKey" | "baseUrl"> = {},
  ): VultrClient {
    const apiKey = env.VULTR_API_KEY?.trim();
    if (!apiKey) throw missingKeyError();
    return new VultrClient({ ...options, apiKey, baseUrl: env.VULTR_API_URL || DEFAULT_VULTR_API_URL });
  }

  /** A GET whose answer must have a body. */
  async get<T>(path: string, query?: Record<string, string>): Promise<T> {
    return expectBody<T>("GET", path, await this.request<T>("GET", path, { query }));
  }

  /** A POST whose answer must have a body (every create in Vultr's API returns the new object). */
  async post<T>(path: string, body: unknown): Promise<T> {
    return expectBody<T>("POST", path, await this.request<T>("POST", path, { body }));
  }

  /** PUT and PATCH: some endpoints answer 204, some the updated object. */
  async put<T = undefined>(path: string, body: unknown): Promise<T | undefined> {
    return this.request<T>("PUT", path, { body });
  }

  async patch<T = undefined>(path: string, body: unknown): Promise<T | undefined> {
    return this.request<T>("PATCH", path, { body });
  }

  async delete(path: string): Promise<void> {
    await this.request("DELETE", path, {});
  }

  /**
   * Every item of a list endpoint, following meta.links.next until it is
   * empty. `key` names the array in the answer ("os", "instances", ...).
   */
  async listAll<T>(path: string, key: string, options: ListOptions = {}): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let cursor = "";
    for (;;) {
      const query: Record<string, string> = { ...options.query, per_page: String(options.perPage ?? 100) };
      if (cursor) query.cursor = cursor;
      const page = await this.get<Record<string, unknown>>(path, query);
      const pageItems = page[key];
      if (!Array.isArray(pageItems)) {
        throw new Error(`Vultr API GET ${path} answered without a "${key}" list`);
      }
      items.push(...(pageItems as T[]));
      const next = (page.meta as Partial<VultrMeta> | undefined)?.links?.next ?? "";
      // A cursor seen before would loop forever; Vultr never sends one, but stop anyway.
      if (!next || seen.has(next)) return items;
      seen.add(next);
      cursor = next;
    }
  }

  /** One call with retries; undefined when the answer has no body (204). */
  async request<T>(
    method: HttpMethod,
    path: string,
    { query, body }: { query?: Record<string, string>; body?: unknown },
  ): Promise<T | undefined> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
    const init: RequestInit = {
      method,
      headers: {
        Authorization: `Bearer ${this.apiKey}`,
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    };

    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, { ...init, signal: AbortSignal.timeout(this.requestTimeoutMs) });
      } catch (error) {
        // A POST that timed out may still have created the object: retrying
        // could create a second server, so only the other methods retry.
        if (method !== "POST" && attempt <= this.maxRetries) {
          await sleep(this.backoff(attempt, null));
          continue;
        }
        const reason = error instanceof Error ? error.message : String(error);
        throw new VultrUnreachableError(
          `Vultr API ${method} ${path} could not be reached at ${this.baseUrl}: ${reason}`,
          error,
        );
      }

      const text = await response.text();
      if (response.ok) return text.trim() === "" ? undefined : parseJson<T>(method, path, text);

      const error = new VultrApiError(
        method,
        path,
        response.status,
        errorMessageOf(text, response.statusText),
        attempt,
      );
      if (mayRetry(method, error) && attempt <= this.maxRetries) {
        await sleep(this.backoff(attempt, response.headers.get("retry-after")));
        continue;
      }
      throw error;
    }
  }

  private backoff(attempt: number, retryAfter: string | null): number {
    const asked = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : 0;
    const exponential = this.retryBaseDelayMs * 2 ** (attempt - 1);
    return Math.min(this.retryMaxDelayMs, Math.max(asked, exponential));
  }
}

function missingKeyError(): Error {
  return new Error(
    "VULTR_API_KEY is not set. Create an API key in the Vultr console (Account, API), allow this machine's " +
      "address there, then `export VULTR_API_KEY=<key>` (in CI: a secret named VULTR_API_KEY) and run pulumi again.",
  );
}

// Tolerate "https://api.vultr.com/v2" too: every path here already starts with /v2.
function normaliseBaseUrl(raw: string): string {
  return raw.replace(/\/+$/, "").replace(/\/v2$/, "");
}

// 429 is Vultr's rate limit and 5xx its own failures. Every create is a
// POST: after a 5xx it may exist already, so only its 429 is sent again
// here (Vultr turns those away before doing anything). A locked instance
// stays locked for minutes: the provider waits that out, not these retries.
function mayRetry(method: HttpMethod, error: VultrApiError): boolean {
  if (classifyVultrError(error) !== "retryable") return false;
  return method !== "POST" || error.status === 429;
}

// Vultr's error bodies are {"error": "...", "status": n} (govultr.go apiError);
// anything else (a proxy's HTML page) is shortened to one line.
function errorMessageOf(text: string, statusText: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === "string" && parsed.error !== "") return parsed.error;
  } catch {
    // not JSON: fall through
  }
  const oneLine = text.replace(/\s+/g, " ").trim();
  if (oneLine === "") return statusText || "no error message";
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}...` : oneLine;
}

function parseJson<T>(method: HttpMethod, path: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`Vultr API ${method} ${path} answered with a body that is not JSON`, { cause: error });
  }
}

function expectBody<T>(method: HttpMethod, path: string, body: T | undefined): T {
  if (body === undefined) throw new Error(`Vultr API ${method} ${path} answered with an empty body`);
  return body;
}
