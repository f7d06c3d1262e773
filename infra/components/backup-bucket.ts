import * as pulumi from "@pulumi/pulumi";
import { VultrResource } from "./vultr-resource.js";

export interface BackupBucketArgs {
  /** Region of the Object Storage cluster, e.g. "ewr". */
  region: string;
  /** The subscription's label, also the bucket's name; kept from the first deploy. */
  label: string;
  /** Protect the subscription, and the backups in it (config protectData): destroy refuses to delete it. */
  protect: boolean;
}

/**
 * Vultr Object Storage (S3-compatible) for off-host backups: the
 * subscription, on a storage tier offered in the region, and its keys. The
 * bucket inside it is made by the first backup (S3 CreateBucket with these
 * keys), not here: the Vultr API manages subscriptions, not buckets.
 */
export class BackupBucket extends pulumi.ComponentResource {
  readonly endpoint: pulumi.Output<string>;
  readonly accessKey: pulumi.Output<string>;
  readonly secretKey: pulumi.Output<string>;
  readonly bucketName: pulumi.Output<string>;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("conversational-platform:storage:BackupBucket", name, {}, opts);
    const storage = new VultrResource(
      "ObjectStorage",
      `${name}-storage`,
      { region: args.region, label: args.label },
      ["s3Hostname", "s3AccessKey", "s3SecretKey"],
      // The label names the bucket: fixed at creation, so renaming the host
      // does not send the next backups to a new, empty bucket.
      {
        parent: this,
        additionalSecretOutputs: ["s3AccessKey", "s3SecretKey"],
        ignoreChanges: ["label"],
        protect: args.protect,
      },
    );
    this.endpoint = pulumi.interpolate`https://${storage.output("s3Hostname")}`;
    this.accessKey = pulumi.secret(storage.output("s3AccessKey"));
    this.secretKey = pulumi.secret(storage.output("s3SecretKey"));
    this.bucketName = storage.output("label");
    this.registerOutputs({ endpoint: this.endpoint, bucketName: this.bucketName });
  }
}
