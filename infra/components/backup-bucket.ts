import * as vultr from "@ediri/vultr";
import * as pulumi from "@pulumi/pulumi";

export interface BackupBucketArgs {
  /** Region of the Object Storage cluster, e.g. "ewr". */
  region: string;
  label: string;
}

/**
 * Vultr Object Storage (S3-compatible) for off-host backups. The bucket
 * inside it is created by the backup script on first use: the provider
 * manages the subscription, not buckets.
 */
export class BackupBucket extends pulumi.ComponentResource {
  readonly endpoint: pulumi.Output<string>;
  readonly accessKey: pulumi.Output<string>;
  readonly secretKey: pulumi.Output<string>;
  readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:storage:BackupBucket", name, {}, opts);
    const cluster = vultr.getObjectStorageClusterOutput(
      { filters: [{ name: "region", values: [args.region] }] },
      { parent: this },
    );
    const storage = new vultr.ObjectStorage(
      `${name}-storage`,
      { clusterId: cluster.id.apply(Number), label: args.label },
      { parent: this, additionalSecretOutputs: ["s3AccessKey", "s3SecretKey"] },
    );
    this.endpoint = pulumi.interpolate`https://${storage.s3Hostname}`;
    this.accessKey = pulumi.secret(storage.s3AccessKey);
    this.secretKey = pulumi.secret(storage.s3SecretKey);
    this.bucketName = pulumi.output(args.label);
    this.registerOutputs({ endpoint: this.endpoint, bucketName: this.bucketName });
  }
}
