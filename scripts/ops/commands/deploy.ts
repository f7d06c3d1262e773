// The fast path for an app-only change: the same release step `pulumi up`
// runs (the bundle must parse in the image in service), then the switch, one
// instance at a time, back by itself if the new release is not healthy.
import { readFileSync } from "node:fs";
import { releaseId, releaseStep } from "../../../infra/host/steps.js";
import { loadTemplates } from "../../../infra/host/templates.js";
import { switchReleaseCommand } from "../host-commands.js";
import { previousRelease } from "../parse.js";
import { OpsError } from "../ops-error.js";
import type { Target } from "../target.js";
import { readReleases } from "./releases.js";
import { runOnHost, runStep } from "../../../infra/host/runner/run.js";

export async function deploy(target: Target, bundlePath: string, actor: string): Promise<number> {
  const bundle = readFileSync(bundlePath);
  const id = releaseId(bundle);
  const templates = loadTemplates();
  console.log(`release ${id}: uploading to ${target.description}`);
  await runStep(target.transport, releaseStep(templates, bundle, bundlePath, "", target.paths));
  await runOnHost(target.transport, "the switch", switchReleaseCommand(templates, target.paths, id, "deploy", actor), {
    stream: true,
  });
  return 0;
}

export async function rollback(target: Target, requested: string | undefined, actor: string): Promise<number> {
  const host = await readReleases(target);
  const to = requested ?? previousRelease(host);
  if (!to) throw new OpsError(`no release to go back to on ${target.description} (npm run ops -- releases lists them)`);
  if (!host.releases.some((r) => r.id === to))
    throw new OpsError(
      `release ${to} is not on ${target.description}; these are: ${host.releases.map((r) => r.id).join(", ")}`,
    );
  await runOnHost(
    target.transport,
    "the switch",
    switchReleaseCommand(loadTemplates(), target.paths, to, "rollback", actor),
    {
      stream: true,
    },
  );
  return 0;
}
