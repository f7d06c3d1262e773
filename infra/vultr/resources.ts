// The registry the Pulumi side loads: one provider object per resource kind,
// keyed by kind name. Nothing here touches the environment or the network
// until an operation runs, so importing it is free.
import { dnsDomainProvider, dnsRecordProvider } from "./dns.js";
import { firewallGroupProvider, firewallRuleProvider } from "./firewall.js";
import { instanceProvider } from "./instance.js";
import { loadBalancerProvider } from "./load-balancer.js";
import { objectStorageProvider } from "./object-storage.js";
import { settingsFromEnv, type AnyProvider, type ProviderSettings, type SettingsSource } from "./provider.js";
import { reservedIpProvider } from "./reserved-ip.js";
import { sshKeyProvider } from "./ssh-key.js";
import { vpcProvider } from "./vpc.js";

export type { DnsDomainInputs, DnsDomainState, DnsRecordInputs, DnsRecordState } from "./dns.js";
export type { FirewallGroupInputs, FirewallGroupState, FirewallRuleInputs, FirewallRuleState } from "./firewall.js";
export type { InstanceInputs, InstanceState } from "./instance.js";
export type { LoadBalancerInputs, LoadBalancerState } from "./load-balancer.js";
export type { ObjectStorageInputs, ObjectStorageState } from "./object-storage.js";
export type { AnyProvider, CheckFailure, DiffResult, Provider, ProviderSettings } from "./provider.js";
export type { ReservedIpInputs, ReservedIpState } from "./reserved-ip.js";
export type { SshKeyInputs, SshKeyState } from "./ssh-key.js";
export type { VpcInputs, VpcState } from "./vpc.js";
export { PartialCreateError } from "./provider.js";

export type VultrResourceKind =
  | "FirewallGroup"
  | "FirewallRule"
  | "SshKey"
  | "ReservedIp"
  | "Instance"
  | "DnsDomain"
  | "DnsRecord"
  | "ObjectStorage"
  | "Vpc"
  | "LoadBalancer";

/**
 * Providers with the environment's settings (VULTR_API_KEY, VULTR_API_URL,
 * VULTR_POLL_INTERVAL_MS, VULTR_WAIT_TIMEOUT_MS) overlaid by `overrides`,
 * read again on every operation.
 */
export function createVultrProviders(
  overrides: Partial<ProviderSettings> = {},
): Record<VultrResourceKind, AnyProvider> {
  const settings: SettingsSource = () => ({ ...settingsFromEnv(), ...overrides });
  return {
    FirewallGroup: firewallGroupProvider(settings),
    FirewallRule: firewallRuleProvider(settings),
    SshKey: sshKeyProvider(settings),
    ReservedIp: reservedIpProvider(settings),
    Instance: instanceProvider(settings),
    DnsDomain: dnsDomainProvider(settings),
    DnsRecord: dnsRecordProvider(settings),
    ObjectStorage: objectStorageProvider(settings),
    Vpc: vpcProvider(settings),
    LoadBalancer: loadBalancerProvider(settings),
  };
}

export const vultrProviders: Record<string, AnyProvider> = createVultrProviders();
