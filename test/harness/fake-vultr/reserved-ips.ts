// Reserved IPs (govultr reserved_ip.go): held by one instance at a time, let
// go of some time after that instance's DELETE answered, and not deletable
// while held. A missing one is Vultr's 400 "Invalid reserved-ip ID".
import { randomUUID } from "node:crypto";
import { ALREADY_ATTACHED, INVALID_RESERVED_IP, UNABLE_TO_DETACH } from "./catalogue.js";
import type { FakeContext } from "./context.js";
import { findInstance } from "./instances.js";
import { bare, HttpError, list, optionalText, text, type Route } from "./strict.js";
import type { FakeReservedIp } from "./types.js";

/** Vultr finishes the detach it started when the instance holding the reserved IP was deleted. */
export function settleReservedIp(ctx: FakeContext, reserved: FakeReservedIp): FakeReservedIp {
  if (reserved.fake.releaseAt !== 0 && ctx.now() >= reserved.fake.releaseAt) {
    reserved.instance_id = "";
    reserved.fake.releaseAt = 0;
  }
  return reserved;
}

export function reservedIpRoutes(ctx: FakeContext): Route[] {
  const { state } = ctx;
  const reservedIp = (id: string | undefined) => {
    const found = state.reservedIps.get(id ?? "");
    if (!found) throw new HttpError(400, INVALID_RESERVED_IP);
    return settleReservedIp(ctx, found);
  };
  const all = () => [...state.reservedIps.values()].map((r) => bare(settleReservedIp(ctx, r)));
  return [
    ["GET", /^\/v2\/reserved-ips$/, (_p, _b, q) => list("reserved_ips", all(), q)],
    [
      "POST",
      /^\/v2\/reserved-ips$/,
      (_p, body) => {
        const region = text(body, "region");
        if (!ctx.regions.has(region)) throw new HttpError(400, "Invalid region");
        const ipType = text(body, "ip_type");
        if (ipType !== "v4" && ipType !== "v6") throw new HttpError(400, "Invalid ip_type");
        const reserved: FakeReservedIp = {
          id: randomUUID(),
          region,
          ip_type: ipType,
          subnet: ipType === "v4" ? ctx.nextReservedIpv4() : `2001:db8:ffff:${(++ctx.counters.v6).toString(16)}::`,
          subnet_size: ipType === "v4" ? 32 : 64,
          label: optionalText(body, "label"),
          instance_id: "",
          fake: { releaseAt: 0 },
        };
        state.reservedIps.set(reserved.id, reserved);
        return { status: 201, body: { reserved_ip: bare(reserved) } };
      },
    ],
    ["GET", /^\/v2\/reserved-ips\/([^/]+)$/, ([id]) => ({ status: 200, body: { reserved_ip: bare(reservedIp(id)) } })],
    [
      "PATCH",
      /^\/v2\/reserved-ips\/([^/]+)$/,
      ([id], body) => {
        const reserved = reservedIp(id);
        reserved.label = optionalText(body, "label");
        return { status: 200, body: { reserved_ip: bare(reserved) } };
      },
    ],
    [
      "DELETE",
      /^\/v2\/reserved-ips\/([^/]+)$/,
      ([id]) => {
        const reserved = reservedIp(id);
        if (reserved.instance_id !== "") throw new HttpError(400, UNABLE_TO_DETACH);
        state.reservedIps.delete(reserved.id);
        return { status: 204 };
      },
    ],
    [
      "POST",
      /^\/v2\/reserved-ips\/([^/]+)\/attach$/,
      ([id], body) => {
        const reserved = reservedIp(id);
        const target = findInstance(ctx, text(body, "instance_id"));
        if (reserved.instance_id !== "" && reserved.instance_id !== target.id)
          throw new HttpError(400, ALREADY_ATTACHED);
        reserved.instance_id = target.id;
        return { status: 204 };
      },
    ],
    [
      "POST",
      /^\/v2\/reserved-ips\/([^/]+)\/detach$/,
      ([id]) => {
        const reserved = reservedIp(id);
        reserved.instance_id = "";
        reserved.fake.releaseAt = 0;
        return { status: 204 };
      },
    ],
  ];
}
