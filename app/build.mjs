// Bundles what runs in the stack's node containers, each into one file that
// runs with plain `node` and no node_modules:
// - dist/api.cjs, the API: the same file goes into the container image, the
//   release directories on the host, and the tests;
// - dist/backup.cjs, the scheduled backup (scripts/backup/scheduled.ts).
// Both run on the API image's Node 24 (apiImage), hence esbuild's target.
import { build } from "esbuild";

await build({
  entryPoints: ["scripts/backup/scheduled.ts"],
  outfile: "dist/backup.cjs",
  bundle: true,
  platform: "node",
  target: "node24",
  format: "cjs",
  logLevel: "warning",
});

const result = await build({
  entryPoints: ["app/src/server.ts"],
  outfile: "dist/api.cjs",
  bundle: true,
  platform: "node",
  target: "node24",
  format: "cjs",
  sourcemap: "linked",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).find((o) => o.entryPoint)?.bytes ?? 0;
console.log(`dist/api.cjs: ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
