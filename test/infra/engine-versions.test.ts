// One Pulumi version across the engine (tools/engine/go.mod) and the SDK the
// program runs (package.json), and `npm run pulumi -- version` prints it.
// The language host runs the program with the `node` on PATH: in the suite,
// the Node the suite itself runs on.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");
const goMod = readFileSync(join(ROOT, "tools/engine/go.mod"), "utf8");
const pinned = (module: string) => new RegExp(`^\\s*${module.replaceAll(".", "\\.")} v(\\S+)$`, "m").exec(goMod)?.[1];

describe("the engine's version", () => {
  it("is the SDK's version, for the CLI and the Go SDK alike", () => {
    const sdk = (
      JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }
    ).dependencies["@pulumi/pulumi"];
    expect(sdk).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pinned("github.com/pulumi/pulumi/pkg/v3")).toBe(sdk);
    expect(pinned("github.com/pulumi/pulumi/sdk/v3")).toBe(sdk);
  });

  it("is what npm run pulumi -- version prints", () => {
    const printed = execFileSync("npm", ["run", "-s", "pulumi", "--", "version"], { cwd: ROOT, encoding: "utf8" });
    expect(printed.trim()).toBe(`v${pinned("github.com/pulumi/pulumi/pkg/v3")}`);
  }, 600_000);

  it("runs the program on the suite's Node (the language host takes the node on PATH)", () => {
    const about = execFileSync("bash", [join(ROOT, "scripts/pulumi.sh"), "about"], { cwd: ROOT, encoding: "utf8" });
    expect(about).toContain(`written in nodejs: executable='${process.execPath}' version='${process.versions.node}'`);
  }, 600_000);
});
