// Checks one request and its answer against the published API
// (api-schema.ts): the route exists, the query and body are what the
// operation takes, the status is one it answers, and the answer's body has
// the documented shape. The fake uses the body check to refuse fields the
// API does not know; the schema test runs all of it on every recorded call.
import { Ajv, type ValidateFunction } from "ajv";
import { ANY_OPERATION_ERRORS, ERROR_BODY, findOperation, type ApiOperation, type JsonSchema } from "./api-schema.js";
import { errorReply, type Reply } from "./strict.js";

/** One call as the fake recorded it. */
export interface Exchange {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  response?: unknown;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const compiled = new Map<JsonSchema, ValidateFunction>();

function validate(schema: JsonSchema, value: unknown, what: string): string[] {
  let check = compiled.get(schema);
  if (!check) {
    check = ajv.compile(schema);
    compiled.set(schema, check);
  }
  if (check(value)) return [];
  return (check.errors ?? []).map((e) => {
    const extra = e.keyword === "additionalProperties" ? ` (${String(e.params.additionalProperty)})` : "";
    return `${what}${e.instancePath} ${e.message ?? e.keyword}${extra}`;
  });
}

/** Why a request body does not fit its operation: fields it does not take, wrong types, missing ones. */
export function requestProblems(op: ApiOperation, body: unknown): string[] {
  if (!op.request) return body === undefined ? [] : ["request body given, but the operation takes none"];
  return validate(op.request, body ?? {}, "request body");
}

/** Top-level request fields the operation does not take (what the fake refuses). */
export function unknownRequestFields(op: ApiOperation, body: unknown): string[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return [];
  const known = Object.keys((op.request?.properties as Record<string, unknown> | undefined) ?? {});
  return Object.keys(body).filter((field) => !known.includes(field));
}

/** Everything about one call that the published API would not do or accept; [] when it all fits. */
export function exchangeProblems(exchange: Exchange): string[] {
  const op = findOperation(exchange.method, exchange.path);
  if (!op) return [`${exchange.method} ${exchange.path} is not an operation of the API`];
  const problems: string[] = [];
  for (const name of Object.keys(exchange.query)) {
    if (!(op.query ?? []).includes(name)) problems.push(`query parameter "${name}" is not taken`);
  }
  problems.push(...requestProblems(op, exchange.body));

  const { status, response } = exchange;
  if (status === op.success.status) {
    if (op.success.body) problems.push(...validate(op.success.body, response, "response"));
    else if (response !== undefined) problems.push(`HTTP ${status} answers no body, but one came`);
  } else if (status >= 200 && status < 300) {
    problems.push(`HTTP ${status} on success, where the API answers ${op.success.status}`);
  } else if (ANY_OPERATION_ERRORS.includes(status)) {
    problems.push(...validate(ERROR_BODY, response, "error response"));
  } else {
    problems.push(`HTTP ${status} is not a status this operation answers`);
  }
  return problems.map((p) => `${exchange.method} ${op.path} (HTTP ${status}): ${p}`);
}

/**
 * What the fake answers instead of running a route: a route of the fake
 * that the API does not have is the fake's own bug (500); a body field the
 * operation does not take is refused (400), since Vultr would silently drop
 * it and a misspelt field (say `sshkey_ids`) must fail a test, not a server.
 */
export function schemaRefusal(method: string, path: string, body: unknown): Reply | undefined {
  const op = findOperation(method, path);
  if (!op) return errorReply(500, `fake-vultr bug: ${method} ${path} is served but not in api-schema.ts`);
  const unknown = unknownRequestFields(op, body);
  if (unknown.length === 0) return undefined;
  return errorReply(
    400,
    `Invalid request: ${unknown.map((f) => `"${f}"`).join(", ")} is not a field of ${method} ${op.path}`,
  );
}
