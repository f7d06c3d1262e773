// One Vultr API object as a Pulumi resource, served by this project's own
// Vultr provider (infra/vultr, run through infra/providers/dynamic.ts). Its
// type is `pulumi-nodejs:dynamic/vultr:<Kind>`, which the policy pack checks.
import * as pulumi from "@pulumi/pulumi";
import { bundledProvider } from "../providers/dynamic.js";
import type { VultrResourceKind } from "../vultr/resources.js";

export class VultrResource extends pulumi.dynamic.Resource {
  constructor(
    kind: VultrResourceKind,
    name: string,
    inputs: Record<string, pulumi.Input<unknown>>,
    /** Properties the API fills in, read back with `output()`. */
    outputs: readonly string[],
    opts: pulumi.CustomResourceOptions,
  ) {
    const props: Record<string, pulumi.Input<unknown> | undefined> = { ...inputs };
    for (const key of outputs) props[key] = undefined;
    super(bundledProvider(`vultr:${kind}`), name, props, opts, "vultr", kind);
  }

  output<T = string>(key: string): pulumi.Output<T> {
    return (this as unknown as Record<string, pulumi.Output<T>>)[key]!;
  }
}
