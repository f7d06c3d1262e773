// VPCs (govultr vpc.go): a private IPv4 network in one region; an instance
// attached to it gets the next address of its subnet as internal_ip. A VPC
// with an instance or load balancer attached cannot be deleted, and Vultr
// lets go of a deleted instance some time after its DELETE answered
// (options.vpcReleaseMs). A missing VPC is Vultr's 400 "Invalid VPC ID".
import { randomUUID } from "node:crypto";
import { isIPv4 } from "node:net";
import { bigIntToIpv4, ipv4ToBigInt } from "../../../infra/config/cidr.js";
import { INVALID_VPC, VPC_IN_USE } from "./catalogue.js";
import type { FakeContext } from "./context.js";
import { bare, HttpError, list, now, optionalText, text, type Route } from "./strict.js";
import type { FakeVpc } from "./types.js";

export function findVpc(ctx: FakeContext, id: string | undefined): FakeVpc {
  const vpc = ctx.state.vpcs.get(id ?? "");
  if (!vpc) throw new HttpError(400, INVALID_VPC);
  return vpc;
}

/** The next free address of the VPC's subnet (from .3: Vultr keeps the first ones for itself). */
export function nextVpcAddress(vpc: FakeVpc): string {
  const size = 2 ** (32 - vpc.v4_subnet_mask);
  if (vpc.fake.nextHost >= size - 1) throw new HttpError(400, "No free addresses left in this VPC");
  return bigIntToIpv4(ipv4ToBigInt(vpc.v4_subnet) + BigInt(vpc.fake.nextHost++));
}

/** Whether anything still holds the VPC: a live instance or load balancer, or one Vultr has not let go of yet. */
function inUse(ctx: FakeContext, vpc: FakeVpc): boolean {
  const { instances, loadBalancers } = ctx.state;
  if ([...instances.values()].some((i) => i.fake.vpcs.has(vpc.id))) return true;
  if ([...loadBalancers.values()].some((lb) => lb.generic_info.vpc === vpc.id)) return true;
  for (const [holder, releaseAt] of vpc.fake.leaving) {
    if (ctx.now() >= releaseAt) vpc.fake.leaving.delete(holder);
  }
  return vpc.fake.leaving.size > 0;
}

export function vpcRoutes(ctx: FakeContext): Route[] {
  const { state } = ctx;
  return [
    ["GET", /^\/v2\/vpcs$/, (_p, _b, q) => list("vpcs", [...state.vpcs.values()].map(bare), q)],
    [
      "POST",
      /^\/v2\/vpcs$/,
      (_p, body) => {
        const region = text(body, "region");
        if (!ctx.regions.has(region)) throw new HttpError(400, "Invalid region");
        // Without a subnet Vultr picks one; the fake takes the next 10.N.0.0/24.
        const subnet = "v4_subnet" in body ? text(body, "v4_subnet") : `10.${++ctx.counters.vpc}.0.0`;
        const mask = "v4_subnet_mask" in body ? body.v4_subnet_mask : 24;
        if (!isIPv4(subnet)) throw new HttpError(400, "Invalid v4_subnet");
        if (typeof mask !== "number" || !Number.isInteger(mask) || mask < 8 || mask > 30) {
          throw new HttpError(400, "Invalid v4_subnet_mask");
        }
        const vpc: FakeVpc = {
          id: randomUUID(),
          region,
          description: optionalText(body, "description"),
          v4_subnet: subnet,
          v4_subnet_mask: mask,
          date_created: now(),
          fake: { nextHost: 3, leaving: new Map() },
        };
        state.vpcs.set(vpc.id, vpc);
        return { status: 201, body: { vpc: bare(vpc) } };
      },
    ],
    ["GET", /^\/v2\/vpcs\/([^/]+)$/, ([id]) => ({ status: 200, body: { vpc: bare(findVpc(ctx, id)) } })],
    [
      "PUT",
      /^\/v2\/vpcs\/([^/]+)$/,
      ([id], body) => {
        const vpc = findVpc(ctx, id);
        if (typeof body.description !== "string") throw new HttpError(400, "Missing or invalid description");
        vpc.description = body.description;
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/vpcs\/([^/]+)$/,
      ([id]) => {
        const vpc = findVpc(ctx, id);
        if (inUse(ctx, vpc)) throw new HttpError(400, VPC_IN_USE);
        state.vpcs.delete(vpc.id);
        return { status: 204 };
      },
    ],
  ];
}
