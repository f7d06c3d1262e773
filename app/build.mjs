// Bundles the API into one file, dist/api.cjs, that runs with plain `node`
// and no node_modules: the same file goes into the container image, the
// release directories on the host, and the tests.
import { build } from "esbuild";

const result = await build({
  entryPoints: ["app/src/server.ts"],
  outfile: "dist/api.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: "linked",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`dist/api.cjs: ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
