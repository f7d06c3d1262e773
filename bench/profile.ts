// Where the API's CPU time goes, from the profiles `node --cpu-prof` writes
// (npm run bench -- --profile DIR): self time by the module of the bundle it
// was spent in (esbuild marks each module's start with a "// path" comment)
// and by function, besides V8's own buckets (garbage collection, idle).
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileShare {
  name: string;
  /** Share of the busy samples (all but idle), in percent. */
  percent: number;
}

/** Line (0-based) -> the bundled module it belongs to. */
function moduleIndex(bundle: string): (line: number) => string {
  const starts: Array<[number, string]> = [];
  bundle.split("\n").forEach((text, line) => {
    const match = /^\/\/ ((?:node_modules|app|scripts)\/\S+)$/.exec(text);
    if (match) starts.push([line, match[1]!]);
  });
  return (line) => {
    let found = "(bundle preamble)";
    for (const [start, name] of starts) {
      if (start > line) break;
      found = name;
    }
    return found;
  };
}

/** What a module path says about whose code it is: the package, or the app's folder. */
function owner(path: string): string {
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return pkg ? pkg[1]! : path.split("/").slice(0, 3).join("/");
}

export function summarize(
  profilePath: string,
  bundlePath: string,
  top = 12,
): { byOwner: ProfileShare[]; byFunction: ProfileShare[] } {
  const profile = JSON.parse(readFileSync(profilePath, "utf8")) as CpuProfile;
  const moduleOf = moduleIndex(readFileSync(bundlePath, "utf8"));
  const busy = (n: ProfileNode) => n.callFrame.functionName !== "(idle)";
  const total = profile.nodes.filter(busy).reduce((sum, n) => sum + (n.hitCount ?? 0), 0) || 1;
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || !busy(node)) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const place = url.endsWith("api.cjs") ? owner(moduleOf(lineNumber)) : url ? url.replace(/^.*\//, "") : functionName;
    byOwner.set(place, (byOwner.get(place) ?? 0) + hits);
    const fn = `${functionName || "(anonymous)"} ${url.endsWith("api.cjs") ? moduleOf(lineNumber) : place}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
  }
  const shares = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({ name, percent: Math.round((hits / total) * 1000) / 10 }));
  return { byOwner: shares(byOwner), byFunction: shares(byFunction) };
}
