// The entry of the providers bundle (dist/providers.cjs): every provider the
// program's dynamic resources name, by kind.
import { vultrProviders } from "../vultr/resources.js";
import { hostKeyProvider } from "./host-key.js";
import { hostKeyInstallProvider } from "./host-key-install.js";
import { hostStepProvider } from "./host-step.js";
import { knownHostProvider } from "./known-host.js";
import type { AnyProvider } from "./provider.js";

export const providers: Record<string, AnyProvider> = {
  "host:Step": hostStepProvider as AnyProvider,
  "host:HostKey": hostKeyProvider as AnyProvider,
  "host:HostKeyInstall": hostKeyInstallProvider as AnyProvider,
  "host:KnownHost": knownHostProvider as AnyProvider,
  ...Object.fromEntries(Object.entries(vultrProviders).map(([kind, p]) => [`vultr:${kind}`, p as AnyProvider])),
};
