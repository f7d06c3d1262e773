// The benchmark's arithmetic and its report, as pure functions: percentiles,
// what a run's figures mean against their targets, the table a person reads
// and the JSON a machine reads (whose shape the suite checks).

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p% of values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export interface Distribution {
  n: number;
  p50: number;
  p99: number;
  mean: number;
}

export function distribution(values: readonly number[]): Distribution {
  const n = values.length;
  return {
    n,
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
    mean: round(n === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / n),
  };
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The keys every result file has, each a finite number (the suite checks them). */
export const REQUIRED_NUMBERS = [
  "ttft_added_p50_ms",
  "ttft_added_p99_ms",
  "relay_ratio_vs_caddy",
  "streams_held",
  "stream_errors",
  "rss_per_stream_kb",
  "history_growth_ratio",
  "answer_length_ratio",
] as const;

export type Headline = Record<(typeof REQUIRED_NUMBERS)[number], number>;

export interface Target {
  key: keyof Headline;
  /** "max": the figure must be at most `limit`; "min": at least. */
  kind: "max" | "min";
  limit: number;
  unit: string;
}

/** The issue's targets for this 2-core machine, load generator included. */
export const TARGETS: Target[] = [
  { key: "ttft_added_p50_ms", kind: "max", limit: 3, unit: "ms" },
  { key: "ttft_added_p99_ms", kind: "max", limit: 15, unit: "ms" },
  { key: "relay_ratio_vs_caddy", kind: "min", limit: 0.5, unit: "" },
  { key: "streams_held", kind: "min", limit: 9000, unit: "streams" },
  { key: "stream_errors", kind: "max", limit: 0, unit: "" },
  { key: "rss_per_stream_kb", kind: "max", limit: 30, unit: "KB" },
  { key: "history_growth_ratio", kind: "max", limit: 2, unit: "" },
  { key: "answer_length_ratio", kind: "max", limit: 2, unit: "" },
];

export interface Verdict {
  key: string;
  value: number;
  target: string;
  met: boolean;
  /** How far off, in words, when missed. */
  miss?: string;
}

export function verdicts(headline: Headline): Verdict[] {
  return TARGETS.map((t) => {
    const value = headline[t.key];
    const met = t.kind === "max" ? value <= t.limit : value >= t.limit;
    const target = `${t.kind === "max" ? "<=" : ">="} ${t.limit}${t.unit ? ` ${t.unit}` : ""}`;
    if (met) return { key: t.key, value, target, met };
    const miss =
      t.limit === 0
        ? `${value} over`
        : t.kind === "max"
          ? `${round(value / t.limit, 1)}x the limit`
          : `${round((value / t.limit) * 100, 0)}% of the target`;
    return { key: t.key, value, target, met, miss };
  });
}

/** Missing or non-numeric required keys, and a missing machine description: empty when the file is well-formed. */
export function problemsWith(json: unknown): string[] {
  if (typeof json !== "object" || json === null) return ["not a JSON object"];
  const record = json as Record<string, unknown>;
  const problems = REQUIRED_NUMBERS.filter((k) => typeof record[k] !== "number" || !Number.isFinite(record[k])).map(
    (k) => `${k} is not a number`,
  );
  const machine = record.machine as Record<string, unknown> | undefined;
  if (!machine || typeof machine.cores !== "number" || typeof machine.memoryBytes !== "number" || !machine.cpuModel)
    problems.push("machine lacks cores, memoryBytes or cpuModel");
  if (typeof record.baselines !== "object" || record.baselines === null) problems.push("baselines missing");
  return problems;
}

export function table(rows: Array<[string, string, string]>): string {
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
