// Bundles what the Pulumi engine loads besides the program itself:
// - dist/providers.cjs: the dynamic providers' code (infra/providers), which
//   the provider process imports from the project folder;
// - dist/policy-pack/: the policy pack as CommonJS in a folder of its own,
//   with the package.json (name, version) and PulumiPolicy.yaml that
//   @pulumi/policy and the engine read.
// Packages stay external: node resolves them from the project's node_modules.
// The target is the oldest Node the toolkit runs on (engines: 22).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const common = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  packages: "external",
  logLevel: "warning",
};

await build({ ...common, entryPoints: ["infra/providers/registry.ts"], outfile: "dist/providers.cjs" });

mkdirSync("dist/policy-pack", { recursive: true });
await build({ ...common, entryPoints: ["infra/policies/index.ts"], outfile: "dist/policy-pack/index.cjs" });
const project = JSON.parse(readFileSync("package.json", "utf8"));
writeFileSync(
  "dist/policy-pack/package.json",
  `${JSON.stringify({ name: `${project.name}-policies`, version: project.version, private: true, main: "index.cjs" }, null, 2)}\n`,
);
copyFileSync("infra/policies/PulumiPolicy.yaml", "dist/policy-pack/PulumiPolicy.yaml");
console.log("dist/providers.cjs, dist/policy-pack/");
