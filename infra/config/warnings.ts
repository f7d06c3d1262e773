// What a stack's settings allow that an operator should hear about at every
// preview and up: not errors (each is a choice someone may make on purpose),
// but each can cost data, cut streams or leave alerts unheard.
// infra/index.ts logs them.
import { alertReceiverWarnings } from "./alert-receivers.js";
import type { StackConfig } from "./stack-config.js";

export function stackWarnings(config: StackConfig): string[] {
  const warnings: string[] = [];
  if (config.server.kind === "vultr" && config.server.allowReplace)
    warnings.push(
      "allowReplace is true: a plan that replaces the server, deleting its disk and the chat store on it, goes " +
        "ahead. Restore a backup after it (npm run ops -- restore latest), then: pulumi config rm allowReplace",
    );
  if (config.packageSource === "distro")
    warnings.push(
      'packageSource is "distro": the host runs its OS\'s Caddy (2.6 on Debian 12 and Ubuntu 24.04), older ' +
        "than the Caddy the deploy measure ran without a cut stream; 2.6.2 cut 7 of 1,169 streams " +
        "in three deploy runs (docs/benchmarks.md). For deploys that keep every stream: pulumi config rm packageSource",
    );
  // Alerts that reach nobody (docs/alert-delivery.md).
  warnings.push(...alertReceiverWarnings(config.alertReceivers));
  return warnings;
}
