// What a failed Vultr call means, decided in one place: the thing is gone,
// the instance is locked for a while, a reserved IP is still held, the call
// may be retried as it is, or it is an answer to give the user. The client
// and the providers act on this; nothing here does I/O.
import type { HttpMethod } from "./client.js";

/** The API answered with an error status; `vultrMessage` is its `error` field. */
export class VultrApiError extends Error {
  constructor(
    readonly method: HttpMethod,
    readonly path: string,
    readonly status: number,
    readonly vultrMessage: string,
    attempts: number,
  ) {
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    super(`Vultr API ${method} ${path} failed with HTTP ${status}${tries}: ${vultrMessage}${hintFor(status)}`);
    this.name = "VultrApiError";
  }
}

/** No answer at all (refused, reset, timed out): the request may or may not have been carried out. */
export class VultrUnreachableError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "VultrUnreachableError";
  }
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) {
    return ". Check VULTR_API_KEY, and that this machine's address is allowed under Account, API, Access Control in the Vultr console";
  }
  return "";
}

/**
 * - gone: the object does not exist (any more).
 * - locked: the instance is busy after a create or a resize; the same call works later.
 * - attached: something still holds it: a reserved IP its instance, a VPC its instances or load balancer
 *   (Vultr lets go some time after the holder's DELETE answered).
 * - notReady: a load balancer still being set up refuses to be deleted; the same call works once it is active.
 * - retryable: Vultr's rate limit or its own failure; the same call may simply be sent again.
 * - fatal: an answer for the user (a validation error, a refused key, ...).
 */
export type VultrErrorClass = "gone" | "locked" | "attached" | "notReady" | "retryable" | "fatal";

/**
 * Texts with which Vultr says "no such object" for some kinds, often with
 * HTTP 400; the Terraform provider matches exactly these (case and all).
 * Keyed by the first path segment after /v2/, so a zone's records share the
 * zone's text.
 */
export const GONE_TEXTS: Readonly<Record<string, readonly string[]>> = {
  "reserved-ips": ["Invalid reserved-ip ID"],
  domains: ["Invalid domain"],
  "ssh-keys": ["Invalid ssh key"],
  vpcs: ["Invalid VPC ID"],
};

/** Vultr's 500 while an instance is locked ("... Server is currently locked", ansible-collection-vultr issue 113). */
const LOCKED = /currently locked/i;
/**
 * Deleting a reserved IP its instance still holds (terraform-provider-vultr
 * issue 348), or a VPC something is still attached to (the text
 * terraform-provider-vultr's VPC delete waits on).
 */
const STILL_ATTACHED = /Unable to detach subnet|attached to this VPC network/i;
/** Deleting a load balancer that is not set up yet (the text terraform-provider-vultr's delete waits on). */
const NOT_READY = /Load balancer is not ready/i;

export function classifyVultrError(error: unknown): VultrErrorClass {
  if (error instanceof VultrUnreachableError) return "retryable";
  if (!(error instanceof VultrApiError)) return "fatal";
  const { status, vultrMessage: text } = error;
  if (status === 404) return "gone";
  if (status === 400 && (/not found/i.test(text) || goneTextsFor(error.path).some((t) => text.includes(t)))) {
    return "gone";
  }
  if (status === 500 && LOCKED.test(text)) return "locked";
  if (status === 400 && STILL_ATTACHED.test(text)) return "attached";
  if (status === 400 && NOT_READY.test(text)) return "notReady";
  // 501 means "never going to work", so it is not retried.
  if (status === 429 || (status >= 500 && status !== 501)) return "retryable";
  return "fatal";
}

/** The object does not exist (any more): a 404, or a 400 saying "not found" or the kind's own text. */
export function isGone(error: unknown): boolean {
  return classifyVultrError(error) === "gone";
}

/**
 * A create that failed this way may still have been carried out: Vultr
 * answered 5xx (a 502/504 from its front end after the back end took the
 * request) or nothing came back. Only a 429 is known to have done nothing.
 */
export function mayHaveCreated(error: unknown): boolean {
  if (error instanceof VultrUnreachableError) return true;
  return error instanceof VultrApiError && error.status >= 500 && error.status !== 501;
}

function goneTextsFor(path: string): readonly string[] {
  const kind = /^\/v2\/([^/?]+)/.exec(path)?.[1] ?? "";
  return GONE_TEXTS[kind] ?? [];
}
