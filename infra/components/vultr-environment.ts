// Everything a stack creates on Vultr: the firewall, the server, its DNS
// records and, optionally, Object Storage for backups.
import * as pulumi from "@pulumi/pulumi";
import type { Cidr } from "../config/cidr.js";
import type { VultrServer } from "../config/stack-config.js";
import { cloudInit } from "../host/cloud-init.js";
import { BackupBucket } from "./backup-bucket.js";
import { Dns } from "./dns.js";
import { Firewall } from "./firewall.js";
import { Server } from "./server.js";
import { ServerHostKey } from "./server-host-key.js";

export interface VultrEnvironmentArgs {
  server: VultrServer;
  stack: string;
  domain: string;
  apiSubdomain: string;
  adminCidrs: Cidr[];
  sshPort: number;
  deployUser: string;
  sshPublicKey: string;
}

export class VultrEnvironment extends pulumi.ComponentResource {
  readonly server: Server;
  /** Its rules let the admins reach SSH: the host steps wait for them. */
  readonly firewall: Firewall;
  /**
   * The key the server boots with (public line): made here, installed by
   * cloud-init from the user data, which stays readable (the metadata
   * service, the Vultr API); InstalledHostKey replaces it on the running server.
   */
  readonly firstBootKey: pulumi.Output<string>;
  readonly dns: Dns;
  readonly backups?: BackupBucket;

  constructor(name: string, args: VultrEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:vultr:Environment", name, {}, opts);
    const { server } = args;
    const firewall = (this.firewall = new Firewall(
      `${name}-firewall`,
      {
        adminCidrs: args.adminCidrs,
        sshPort: args.sshPort,
        description: `${server.hostname}: SSH from admins, HTTP(S) from anywhere`,
      },
      { parent: this },
    ));
    const hostKey = new ServerHostKey(`${name}-host-key`, {}, { parent: this });
    this.firstBootKey = hostKey.publicKey;
    this.server = new Server(
      `${name}-server`,
      {
        region: server.region,
        plan: server.plan,
        osName: server.osName,
        hostname: server.hostname,
        sshPublicKey: args.sshPublicKey,
        firewallGroupId: firewall.groupId,
        reservedIp: server.reservedIp,
        tags: server.tags,
        protect: server.protectData,
        allowReplace: server.allowReplace,
        // Secret: it carries the host key's private half.
        userData: pulumi.secret(
          pulumi
            .all([hostKey.publicKey, hostKey.privateKey])
            .apply(([publicKey, privateKey]) =>
              cloudInit(args.deployUser, args.sshPublicKey, { publicKey, privateKey }, args.sshPort),
            ),
        ),
      },
      { parent: this },
    );
    this.dns = new Dns(
      `${name}-dns`,
      {
        domain: args.domain,
        createZone: server.createDnsZone,
        protectZone: server.protectData,
        apiSubdomain: args.apiSubdomain,
        ipv4: this.server.ipv4,
        ipv6: this.server.ipv6,
      },
      { parent: this },
    );
    if (server.backupsBucket) {
      this.backups = new BackupBucket(
        `${name}-backups`,
        {
          region: server.backupsRegion,
          label: `${server.hostname}-${args.stack}-backups`,
          protect: server.protectData,
        },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }
}
