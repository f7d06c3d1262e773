// What every host command sends to `bash -s`, and the command line that runs
// it as root: the envelope around the scripts of templates/host/steps/ and
// templates/host/ops/. The inputs are the only part TypeScript writes.
import type { Templates } from "../templates.js";

export const base64 = (text: string | Buffer) => Buffer.from(text).toString("base64");
/** One shell word, whatever `text` holds. */
export const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * A staging folder (removed on exit) holding the shared library, the inputs
 * as shell variables, then the script.
 */
export function hostScript(
  templates: Pick<Templates, "lib">,
  body: string,
  inputs: Readonly<Record<string, string>>,
): string {
  for (const name of Object.keys(inputs)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`step input ${name}: names are upper case (A-Z, 0-9, _)`);
  }
  return [
    // Some inputs are read indirectly (decode NAME FILE).
    "# shellcheck disable=SC2034",
    "set -euo pipefail",
    "PLATFORM_STAGE=$(mktemp -d)",
    `trap 'rm -rf "$PLATFORM_STAGE"' EXIT`,
    `printf '%s' ${shellQuote(base64(templates.lib))} | base64 -d >"$PLATFORM_STAGE/lib.sh"`,
    ...Object.entries(inputs).map(([name, value]) => `${name}=${shellQuote(value)}`),
    body,
  ].join("\n");
}

/**
 * How a step or an ops command runs as root on the host: through sudo (the
 * deploy user is in no group that would spare it), with its name as bash's
 * argument, so sudo's log (/var/log/platform/sudo.log) says which one ran.
 */
export function asRoot(name: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`command name ${name}: lower case, digits and "-" only`);
  return `sudo bash -s -- ${name}`;
}

/** A command run as root under `name`, its script (`body` with `inputs`) in the envelope. */
export function rootCommand(
  templates: Pick<Templates, "lib">,
  name: string,
  body: string,
  inputs: Readonly<Record<string, string>>,
): { command: string; script: string } {
  return { command: asRoot(name), script: hostScript(templates, body, inputs) };
}
