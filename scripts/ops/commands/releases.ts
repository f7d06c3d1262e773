import { loadTemplates } from "../../../infra/host/templates.js";
import { releasesCommand } from "../host-commands.js";
import { parseReleases, previousRelease, type ReleasesOnHost } from "../parse.js";
import type { Target } from "../target.js";
import { runOnHost } from "../../../infra/host/runner/run.js";

export async function readReleases(target: Target): Promise<ReleasesOnHost> {
  return parseReleases(await runOnHost(target.transport, "releases", releasesCommand(loadTemplates(), target.paths)));
}

export async function releases(target: Target, json: boolean): Promise<number> {
  const host = await readReleases(target);
  if (json) {
    console.log(JSON.stringify({ ...host, previous: previousRelease(host) ?? null }, null, 2));
    return 0;
  }
  const previous = previousRelease(host);
  for (const r of host.releases) {
    const mark = r.id === host.current ? "in service" : r.id === previous ? "rollback goes here" : "";
    console.log(`${r.id}  installed ${r.installedAt}  ${mark}`);
  }
  for (const entry of host.audit.slice(-10))
    console.log(`  ${entry.at} ${entry.actor}: ${entry.action} ${entry.detail}`);
  return 0;
}
