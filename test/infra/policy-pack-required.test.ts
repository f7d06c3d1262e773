// When the program agrees to run: only with this project's policy pack, as
// scripts/pulumi.sh reports it (infra/policies/pack-required.ts). Under the
// engine: test/infra/stock-cli.test.ts.
import { describe, expect, it } from "vitest";
import { policyPackRefusal } from "../../infra/policies/pack-required.js";

const projectDir = "/home/ops/platform";

describe("policyPackRefusal", () => {
  it.each([
    "dist/policy-pack",
    "dist/policy-pack/",
    "./dist/../dist/policy-pack",
    "/home/ops/platform/dist/policy-pack",
  ])("runs with this project's pack, given as %s", (given) => {
    expect(policyPackRefusal({ given, projectDir })).toBeUndefined();
  });

  it.each([undefined, "", "  "])("refuses without a pack (%j), naming npm run up and why", (given) => {
    const refusal = policyPackRefusal({ given, projectDir });
    expect(refusal).toMatch(/^This program runs only with its policy pack \(dist\/policy-pack\)/);
    expect(refusal).toContain("Pulumi cannot load a policy pack from Pulumi.yaml");
    expect(refusal).toContain('Run "npm run up" (or "npm run preview")');
    expect(refusal).toContain('"npm run pulumi -- up --policy-pack dist/policy-pack"');
    expect(refusal).toMatch(/Nothing was changed\.$/);
  });

  it.each([
    ["another project's pack", "/home/ops/other/dist/policy-pack"],
    ["the source folder, not the bundle", "infra/policies"],
    ["a path from another folder", "../dist/policy-pack"],
  ])("refuses %s, naming both packs", (_, given) => {
    expect(policyPackRefusal({ given, projectDir })).toBe(
      `PLATFORM_POLICY_PACK names the policy pack ${given}, not this project's (/home/ops/platform/dist/policy-pack): ` +
        `the deploy would run without the project's rules. Run "npm run up" (or "npm run preview"). Nothing was changed.`,
    );
  });
});
