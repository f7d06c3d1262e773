import * as pulumi from "@pulumi/pulumi";
import { VultrResource } from "./vultr-resource.js";

export interface ServerArgs {
  region: string;
  plan: string;
  /** Looked up by name when the instance is created, e.g. "Ubuntu 24.04 LTS x64". */
  osName: string;
  hostname: string;
  sshPublicKey: string;
  firewallGroupId: pulumi.Input<string>;
  /** Keep the IPv4 address across rebuilds with a reserved IP (config `reservedIp`, true unless set). */
  reservedIp: boolean;
  tags: string[];
  /** Cloud-init user data, applied on the instance's first boot only. A secret: it holds the host key. */
  userData: pulumi.Input<string>;
  /** Protect the instance and the reserved IP (config protectData): destroy and replace refuse them. */
  protect: boolean;
  /** Let a plan replace the instance (config allowReplace): its diff refuses one otherwise, and its protection is lifted. */
  allowReplace: boolean;
}

/**
 * The VPS: its SSH key, the instance (IPv6 on, Vultr's auto-backups off as
 * the guide says, the firewall attached) and an optional reserved IPv4.
 */
export class Server extends pulumi.ComponentResource {
  readonly instanceId: pulumi.Output<string>;
  readonly ipv4: pulumi.Output<string>;
  readonly ipv6: pulumi.Output<string>;

  constructor(name: string, args: ServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:compute:Server", name, {}, opts);
    const key = new VultrResource(
      "SshKey",
      `${name}-key`,
      { name: `${args.hostname}-deploy`, sshKey: args.sshPublicKey },
      [],
      { parent: this },
    );
    const reserved = args.reservedIp
      ? new VultrResource(
          "ReservedIp",
          `${name}-ipv4`,
          { region: args.region, ipType: "v4", label: `${args.hostname}-ipv4` },
          ["subnet"],
          { parent: this, protect: args.protect },
        )
      : undefined;
    const instance = new VultrResource(
      "Instance",
      `${name}-instance`,
      {
        region: args.region,
        plan: args.plan,
        osName: args.osName,
        hostname: args.hostname,
        label: args.hostname,
        enableIpv6: true,
        // Backups are ours (NATS snapshots off-host), not Vultr's.
        backups: "disabled",
        activationEmail: false,
        ddosProtection: false,
        firewallGroupId: args.firewallGroupId,
        sshKeyIds: [key.id],
        ...(reserved ? { reservedIpId: reserved.id } : {}),
        tags: args.tags,
        userData: args.userData,
        allowReplace: args.allowReplace,
      },
      ["mainIp", "v6MainIp"],
      // Neither must rebuild the server (and lose its data): user data only
      // matters at first boot, and Vultr sets the host name only at creation
      // (a new one reaches the label at once, and the host name on a rebuild).
      // The engine refuses to replace a protected resource: allowReplace lifts it for that up.
      { parent: this, ignoreChanges: ["userData", "hostname"], protect: args.protect && !args.allowReplace },
    );
    this.instanceId = instance.id;
    this.ipv4 = instance.output("mainIp");
    this.ipv6 = instance.output("v6MainIp");
    this.registerOutputs({ instanceId: this.instanceId, ipv4: this.ipv4, ipv6: this.ipv6 });
  }
}
