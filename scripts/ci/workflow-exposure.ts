// Which jobs of a GitHub Actions workflow a pull request can start, and
// what of production each of them could read. A pull request's own code runs
// in those jobs, so any secret they are given is one `echo` away from its
// author: the answer must be "nothing". test/infra/ci-workflow.test.ts holds
// the project's workflows to it.
import { parse } from "yaml";

/** Something a pull request could reach, named for the reader. */
export interface Exposure {
  job: string;
  problem: string;
}

/**
 * Triggers whose runs hold the base repository's secrets while acting on a
 * pull request's input (its code, its comments or reviews).
 */
const PRIVILEGED_TRIGGERS = [
  "pull_request_target",
  "workflow_run",
  "issue_comment",
  "pull_request_review",
  "pull_request_review_comment",
];
const PULL_REQUEST_TRIGGERS = ["pull_request", ...PRIVILEGED_TRIGGERS];

export function pullRequestExposures(workflowYaml: string): Exposure[] {
  const workflow = parse(workflowYaml) as { on?: unknown; jobs?: Record<string, Record<string, unknown>> };
  const triggers = triggerNames(workflow.on);
  const exposures: Exposure[] = PRIVILEGED_TRIGGERS.filter((t) => triggers.includes(t)).map((t) => ({
    job: "(workflow)",
    problem: `the workflow runs on ${t}, which gives a run started by a pull request the repository's secrets`,
  }));
  if (!triggers.some((t) => PULL_REQUEST_TRIGGERS.includes(t))) return exposures;
  for (const [name, job] of Object.entries(workflow.jobs ?? {})) {
    if (evaluate(String(job.if ?? "true"), { "github.event_name": "pull_request" }) === false) continue;
    for (const reference of secretReferences(job)) {
      exposures.push({ job: name, problem: `reads ${reference}` });
    }
    if (job.secrets === "inherit") exposures.push({ job: name, problem: "inherits every secret (secrets: inherit)" });
    if (job.environment !== undefined) {
      const environment =
        typeof job.environment === "string" ? job.environment : (job.environment as { name?: unknown }).name;
      exposures.push({
        job: name,
        problem: `runs in the environment ${String(environment)}, whose secrets it would get`,
      });
    }
    const runner = selfHosted(job["runs-on"]);
    if (runner) {
      exposures.push({ job: name, problem: `runs on a self-hosted runner (${runner}), which outlives the job` });
    }
    if (runsCode(job) && writes(job.permissions)) {
      exposures.push({ job: name, problem: "runs the pull request's code with a token that can write" });
    }
  }
  return exposures;
}

function triggerNames(on: unknown): string[] {
  if (typeof on === "string") return [on];
  if (Array.isArray(on)) return on.map(String);
  return on && typeof on === "object" ? Object.keys(on) : [];
}

/** Every `secrets.X` the job mentions, but the run's own token. */
function secretReferences(value: unknown): string[] {
  if (typeof value === "string") {
    return [...value.matchAll(/(?<![\w.-])secrets\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']*)'\s*\])/g)]
      .map((m) => `secrets.${m[1] ?? m[2]}`)
      .filter((reference) => reference !== "secrets.GITHUB_TOKEN");
  }
  if (Array.isArray(value)) return value.flatMap(secretReferences);
  if (value && typeof value === "object") return Object.values(value).flatMap(secretReferences);
  return [];
}

/** A job that checks out the repository or runs commands runs the pull request's code. */
function runsCode(job: Record<string, unknown>): boolean {
  const steps = Array.isArray(job.steps) ? (job.steps as Record<string, unknown>[]) : [];
  return (
    job.uses !== undefined ||
    steps.some((s) => s.run !== undefined || String(s.uses ?? "").startsWith("actions/checkout"))
  );
}

/** The runner's labels when they name a self-hosted one (a runner group is one too). */
function selfHosted(runsOn: unknown): string | undefined {
  if (typeof runsOn === "string") return runsOn === "self-hosted" ? runsOn : undefined;
  if (Array.isArray(runsOn)) return runsOn.map(String).includes("self-hosted") ? runsOn.join(", ") : undefined;
  if (runsOn && typeof runsOn === "object") {
    const { group, labels } = runsOn as { group?: unknown; labels?: unknown };
    const named = [group, labels]
      .flat()
      .filter((v) => v !== undefined)
      .map(String);
    return group !== undefined || named.includes("self-hosted") ? named.join(", ") : undefined;
  }
  return undefined;
}

function writes(permissions: unknown): boolean {
  if (permissions === "write-all") return true;
  return !!permissions && typeof permissions === "object" && Object.values(permissions).includes("write");
}

// --- GitHub's expression language, as far as `if:` needs it -------------
// Values a workflow's `if` can see are known (the event's name) or not (all
// else). A job may run unless its condition is false for every unknown.
type Value = string | boolean | number | null | typeof UNKNOWN;
const UNKNOWN = Symbol("unknown");

/** true, false, or "unknown" (the condition depends on values not given). */
export function evaluate(condition: string, known: Record<string, string>): boolean | "unknown" {
  const source = condition.trim().replace(/^\$\{\{([\s\S]*)\}\}$/, "$1");
  const parser = new ExpressionParser(source, known);
  const value = parser.parse();
  return value === UNKNOWN ? "unknown" : truthy(value);
}

function truthy(value: Exclude<Value, typeof UNKNOWN>): boolean {
  return value !== false && value !== null && value !== 0 && value !== "";
}

class ExpressionParser {
  private readonly tokens: string[];
  private position = 0;

  constructor(
    source: string,
    private readonly known: Record<string, string>,
  ) {
    this.tokens = source.match(/'(?:[^']|'')*'|==|!=|&&|\|\||[!(),]|[A-Za-z_][\w.-]*(?:\[\*\])?|\d+(?:\.\d+)?/g) ?? [];
    const rest = source.replace(
      /'(?:[^']|'')*'|==|!=|&&|\|\||[!(),]|[A-Za-z_][\w.-]*(?:\[\*\])?|\d+(?:\.\d+)?|\s+/g,
      "",
    );
    if (rest) throw new Error(`cannot read the expression "${source}" (at "${rest}")`);
  }

  parse(): Value {
    const value = this.or();
    if (this.position !== this.tokens.length) throw new Error(`unexpected "${this.tokens[this.position]}"`);
    return value;
  }

  private or(): Value {
    let left = this.and();
    while (this.take("||")) left = either(left, this.and());
    return left;
  }

  private and(): Value {
    let left = this.comparison();
    while (this.take("&&")) left = both(left, this.comparison());
    return left;
  }

  private comparison(): Value {
    const left = this.unary();
    for (const op of ["==", "!="]) {
      if (!this.take(op)) continue;
      const right = this.unary();
      if (left === UNKNOWN || right === UNKNOWN) return UNKNOWN;
      // GitHub compares strings without regard to case.
      const same = String(left).toLowerCase() === String(right).toLowerCase();
      return op === "==" ? same : !same;
    }
    return left;
  }

  private unary(): Value {
    if (this.take("!")) {
      const value = this.unary();
      return value === UNKNOWN ? UNKNOWN : !truthy(value);
    }
    return this.primary();
  }

  private primary(): Value {
    const token = this.tokens[this.position++];
    if (token === undefined) throw new Error("the expression ends too early");
    if (token === "(") {
      const value = this.or();
      this.expect(")");
      return value;
    }
    if (token.startsWith("'")) return token.slice(1, -1).replace(/''/g, "'");
    if (/^\d/.test(token)) return Number(token);
    if (token === "true" || token === "false") return token === "true";
    if (token === "null") return null;
    if (this.take("(")) return this.call(token);
    return token in this.known ? this.known[token]! : UNKNOWN;
  }

  private call(name: string): Value {
    const args: Value[] = [];
    if (!this.take(")")) {
      do args.push(this.or());
      while (this.take(","));
      this.expect(")");
    }
    if (name === "always") return true;
    const [a, b] = args;
    if (a === undefined || b === undefined || a === UNKNOWN || b === UNKNOWN) return UNKNOWN;
    const [x, y] = [String(a).toLowerCase(), String(b).toLowerCase()];
    if (name === "contains") return x.includes(y);
    if (name === "startsWith") return x.startsWith(y);
    if (name === "endsWith") return x.endsWith(y);
    return UNKNOWN;
  }

  private take(token: string): boolean {
    if (this.tokens[this.position] !== token) return false;
    this.position++;
    return true;
  }

  private expect(token: string) {
    if (!this.take(token)) throw new Error(`expected "${token}"`);
  }
}

function both(a: Value, b: Value): Value {
  if ((a !== UNKNOWN && !truthy(a)) || (b !== UNKNOWN && !truthy(b))) return false;
  return a === UNKNOWN || b === UNKNOWN ? UNKNOWN : true;
}

function either(a: Value, b: Value): Value {
  if ((a !== UNKNOWN && truthy(a)) || (b !== UNKNOWN && truthy(b))) return true;
  return a === UNKNOWN || b === UNKNOWN ? UNKNOWN : false;
}
