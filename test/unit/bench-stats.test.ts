import { describe, expect, it } from "vitest";
import { distribution, percentile, problemsWith, verdicts, type Headline } from "../../bench/stats.js";

const headline: Headline = {
  ttft_added_p50_ms: 2,
  ttft_added_p99_ms: 30,
  relay_ratio_vs_caddy: 0.25,
  streams_held: 9000,
  stream_errors: 0,
  rss_per_stream_kb: 12,
  history_growth_ratio: 1.2,
  answer_length_ratio: 8,
};

describe("benchmark arithmetic", () => {
  it("takes nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(distribution([1, 2, 3, 4])).toEqual({ n: 4, p50: 2, p99: 4, mean: 2.5 });
  });

  it("says which targets are met and by how much the others are missed", () => {
    const byKey = Object.fromEntries(verdicts(headline).map((v) => [v.key, v]));
    expect(byKey.ttft_added_p50_ms).toMatchObject({ met: true });
    expect(byKey.ttft_added_p99_ms).toMatchObject({ met: false, miss: "2x the limit" });
    expect(byKey.relay_ratio_vs_caddy).toMatchObject({ met: false, miss: "50% of the target" });
    expect(verdicts({ ...headline, stream_errors: 3 }).find((v) => v.key === "stream_errors")).toMatchObject({
      met: false,
      miss: "3 over",
    });
  });

  it("finds what a result file lacks", () => {
    const machine = { cores: 2, memoryBytes: 1, cpuModel: "x" };
    expect(problemsWith({ ...headline, machine, baselines: {} })).toEqual([]);
    expect(problemsWith({ ...headline, stream_errors: "0", machine, baselines: {} })).toEqual([
      "stream_errors is not a number",
    ]);
    expect(problemsWith({ ...headline, baselines: {} })).toEqual(["machine lacks cores, memoryBytes or cpuModel"]);
    expect(problemsWith(null)).toEqual(["not a JSON object"]);
  });
});
