// How many deploys the deploy measure makes: the setting, its default, and
// a clear refusal of a count it cannot mean.
import { describe, expect, it } from "vitest";
import { deployCount } from "../../bench/deploy-count.js";

describe("BENCH_DEPLOYS", () => {
  it("is the caller's default when unset, else the count given", () => {
    expect(deployCount(undefined, 1)).toBe(1);
    expect(deployCount("", 20)).toBe(20);
    expect(deployCount("20", 1)).toBe(20);
    expect(deployCount("200", 1)).toBe(200);
  });

  it("refuses what is not a whole number from 1 to 200, naming the setting and a good value", () => {
    for (const bad of ["0", "-3", "2.5", "twenty", "201"])
      expect(() => deployCount(bad, 1)).toThrow(
        /BENCH_DEPLOYS \(or --deploys\) is ".*": use a whole number of deploys from 1 to 200, e\.g\. BENCH_DEPLOYS=20/,
      );
  });
});
