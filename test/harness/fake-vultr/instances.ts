// Operating systems and instances (govultr os.go, instance.go): a new
// instance is pending with main_ip 0.0.0.0 for a few GETs (and until its
// first boot is over), a plan only grows within its family (a resize is
// "resizing" on the old plan for as many GETs, or as long as a test keeps
// its pollsLeft up, past any wait), a new or resized instance is locked for
// a while (options.instanceLockMs), and deleting an instance frees its
// reserved IP some time later (options.reservedIpReleaseMs).
import { randomUUID } from "node:crypto";
import { ALREADY_ATTACHED, SERVER_LOCKED } from "./catalogue.js";
import type { FakeContext } from "./context.js";
import { settleReservedIp } from "./reserved-ips.js";
import { findVpc, nextVpcAddress } from "./vpcs.js";
import { bare, found, HttpError, list, now, optionalText, text, texts, type Route } from "./strict.js";
import type { FakeInstance } from "./types.js";

export function findInstance(ctx: FakeContext, id: string | undefined): FakeInstance {
  return found(ctx.state.instances.get(id ?? ""), "instance not found");
}

export function instanceRoutes(ctx: FakeContext): Route[] {
  const { state, options } = ctx;
  const instance = (id: string | undefined) => findInstance(ctx, id);
  return [
    ["GET", /^\/v2\/os$/, (_p, _b, q) => list("os", ctx.os, q)],
    [
      "GET",
      /^\/v2\/instances$/,
      (_p, _b, q) => list("instances", [...state.instances.values()].map(publicInstance), q),
    ],
    [
      "POST",
      /^\/v2\/instances$/,
      (_p, body) => {
        const region = text(body, "region");
        if (!ctx.regions.has(region)) throw new HttpError(400, "Invalid region");
        const plan = text(body, "plan");
        if (!ctx.plans.some((p) => p.id === plan)) throw new HttpError(400, "Invalid plan");
        const chosen = ctx.os.find((o) => o.id === body.os_id);
        if (!chosen) throw new HttpError(400, "Invalid os_id");
        const firewallGroupId = optionalText(body, "firewall_group_id");
        if (firewallGroupId && !state.firewallGroups.has(firewallGroupId)) {
          throw new HttpError(400, "Invalid firewall group");
        }
        const sshKeyIds = texts(body, "sshkey_id");
        if (sshKeyIds.some((id) => !state.sshKeys.has(id))) throw new HttpError(400, "Invalid SSH key");
        const userData = optionalText(body, "user_data");
        if (userData && Buffer.from(userData, "base64").toString("base64") !== userData) {
          throw new HttpError(400, "user_data must be base64 encoded");
        }
        const reservedId = optionalText(body, "reserved_ipv4");
        const reserved = reservedId ? state.reservedIps.get(reservedId) : undefined;
        if (reservedId && !reserved) throw new HttpError(400, "Invalid reserved IP");
        if (reserved) {
          if (reserved.region !== region) throw new HttpError(400, "Reserved IP is not in the instance's region");
          if (settleReservedIp(ctx, reserved).instance_id !== "") throw new HttpError(400, ALREADY_ATTACHED);
        }
        const vpcs = texts(body, "attach_vpc").map((vpcId) => findVpc(ctx, vpcId));
        if (vpcs.some((vpc) => vpc.region !== region)) throw new HttpError(400, "VPC is not in the instance's region");
        const enableIpv6 = body.enable_ipv6 === true;
        const id = randomUUID();
        ctx.counters.v6++;
        const created: FakeInstance = {
          id,
          os: chosen.name,
          os_id: chosen.id,
          plan,
          region,
          label: optionalText(body, "label"),
          hostname: optionalText(body, "hostname") || `vultr-guest-${id.slice(0, 8)}`,
          status: "pending",
          power_status: "running",
          server_status: "none",
          main_ip: "0.0.0.0",
          v6_main_ip: "",
          v6_network: "",
          v6_network_size: 0,
          firewall_group_id: firewallGroupId,
          features: [
            ...(enableIpv6 ? ["ipv6"] : []),
            ...(body.backups === "enabled" ? ["auto_backups"] : []),
            ...(body.ddos_protection === true ? ["ddos_protection"] : []),
          ],
          tags: texts(body, "tags"),
          date_created: now(),
          internal_ip: "",
          fake: {
            vpcs: new Map(vpcs.map((vpc) => [vpc.id, nextVpcAddress(vpc)])),
            pollsLeft: ctx.pendingPolls,
            futureIpv4: reserved ? reserved.subnet : ctx.nextIpv4(),
            futureIpv6: enableIpv6 ? `2001:db8:${(0x1000 + ctx.counters.v6).toString(16)}::1` : "",
            enableIpv6,
            sshKeyIds,
            userData,
            reservedIpId: reserved?.id ?? "",
            pendingPlan: "",
            booted: !options.firstBoot,
            bootError: "",
            lockedUntil: ctx.now() + (options.instanceLockMs ?? 0),
          },
        };
        if (reserved) reserved.instance_id = id;
        state.instances.set(id, created);
        options.firstBoot?.(Buffer.from(userData, "base64").toString("utf8")).then(
          () => (created.fake.booted = true),
          (error: unknown) => (created.fake.bootError = error instanceof Error ? error.message : String(error)),
        );
        return { status: 202, body: { instance: { ...publicInstance(created), default_password: "fake-Pa55word!" } } };
      },
    ],
    [
      "GET",
      /^\/v2\/instances\/([^/]+)$/,
      ([id]) => {
        const found = instance(id);
        if (found.fake.bootError) throw new HttpError(500, `the instance's first boot failed: ${found.fake.bootError}`);
        advanceInstance(found);
        return { status: 200, body: { instance: publicInstance(found) } };
      },
    ],
    [
      "PATCH",
      /^\/v2\/instances\/([^/]+)$/,
      ([id], body) => {
        const found = instance(id);
        refuseWhileLocked(ctx, found, "update");
        if ("plan" in body) {
          const plan = text(body, "plan");
          if (plan !== found.plan && !upgradesOf(ctx, found.plan).includes(plan)) {
            throw new HttpError(400, "Invalid plan: an instance can only be upgraded to a larger plan");
          }
          if (plan !== found.plan) {
            // Vultr reports "resizing", and the old plan, until the resize is over.
            found.status = "resizing";
            found.fake.pendingPlan = plan;
            found.fake.pollsLeft = ctx.pendingPolls;
            found.fake.lockedUntil = ctx.now() + (options.instanceLockMs ?? 0);
          }
        }
        if ("label" in body) found.label = text(body, "label");
        if ("tags" in body) found.tags = texts(body, "tags");
        if ("firewall_group_id" in body) {
          const groupId = text(body, "firewall_group_id");
          if (groupId && !state.firewallGroups.has(groupId)) throw new HttpError(400, "Invalid firewall group");
          found.firewall_group_id = groupId;
        }
        if ("enable_ipv6" in body) {
          found.fake.enableIpv6 = body.enable_ipv6 === true;
          setFeature(found, "ipv6", found.fake.enableIpv6);
          if (found.fake.enableIpv6 && !found.v6_main_ip) {
            found.fake.futureIpv6 = `2001:db8:${(0x1000 + ++ctx.counters.v6).toString(16)}::1`;
            if (found.status === "active") assignIpv6(found);
          }
        }
        if ("backups" in body) setFeature(found, "auto_backups", body.backups === "enabled");
        if ("ddos_protection" in body) setFeature(found, "ddos_protection", body.ddos_protection === true);
        return { status: 202, body: { instance: publicInstance(found) } };
      },
    ],
    [
      "DELETE",
      /^\/v2\/instances\/([^/]+)$/,
      async ([id]) => {
        const found = instance(id);
        refuseWhileLocked(ctx, found, "destroy");
        state.instances.delete(found.id);
        // Load balancers stop sending to it (their proxies too, when running); its VPCs count it as attached
        // until Vultr has finished letting go.
        for (const lb of state.loadBalancers.values()) {
          if (!lb.instances.includes(found.id)) continue;
          lb.instances = lb.instances.filter((i) => i !== found.id);
          await ctx.proxies?.apply(lb);
        }
        for (const vpcId of found.fake.vpcs.keys()) {
          state.vpcs.get(vpcId)?.fake.leaving.set(found.id, ctx.now() + (options.vpcReleaseMs ?? 0));
        }
        // The reserved IP stays attached (to an instance gone) until Vultr has finished detaching it.
        for (const reserved of state.reservedIps.values()) {
          if (reserved.instance_id === found.id)
            reserved.fake.releaseAt = ctx.now() + (options.reservedIpReleaseMs ?? 0);
        }
        return { status: 204 };
      },
    ],
    [
      "POST",
      /^\/v2\/instances\/([^/]+)\/vpcs\/attach$/,
      ([id], body) => {
        const found = instance(id);
        const vpc = findVpc(ctx, text(body, "vpc_id"));
        if (vpc.region !== found.region) throw new HttpError(400, "VPC is not in the instance's region");
        if (!found.fake.vpcs.has(vpc.id)) found.fake.vpcs.set(vpc.id, nextVpcAddress(vpc));
        showInternalIp(found);
        return { status: 204 };
      },
    ],
    [
      "POST",
      /^\/v2\/instances\/([^/]+)\/vpcs\/detach$/,
      ([id], body) => {
        const found = instance(id);
        const vpc = findVpc(ctx, text(body, "vpc_id"));
        if (!found.fake.vpcs.delete(vpc.id)) throw new HttpError(400, "VPC is not attached to this instance");
        showInternalIp(found);
        return { status: 204 };
      },
    ],
    [
      "GET",
      /^\/v2\/instances\/([^/]+)\/upgrades$/,
      ([id]) => ({
        status: 200,
        body: { upgrades: { os: [], applications: [], plans: upgradesOf(ctx, instance(id).plan) } },
      }),
    ],
  ];
}

function refuseWhileLocked(ctx: FakeContext, inst: FakeInstance, doing: "destroy" | "update"): void {
  if (ctx.now() >= inst.fake.lockedUntil) return;
  // Vultr's text for a DELETE; the one for other changes follows its pattern.
  throw new HttpError(500, doing === "destroy" ? SERVER_LOCKED : "Unable to update server: Server is currently locked");
}

function publicInstance(inst: FakeInstance): Omit<FakeInstance, "fake"> {
  return bare(inst);
}

function upgradesOf(ctx: FakeContext, planId: string): string[] {
  const current = ctx.plans.find((p) => p.id === planId);
  if (!current) return [];
  return ctx.plans.filter((p) => planFamily(p.id) === planFamily(planId) && p.ram > current.ram).map((p) => p.id);
}

// "vhp-2c-4gb-amd" and "vhp-4c-8gb-amd" are one family; a vc2 plan is another.
function planFamily(planId: string): string {
  return planId.replace(/-\d+c-\d+gb/, "");
}

// Each GET of a pending instance counts down; at zero it is active with its addresses.
function advanceInstance(inst: FakeInstance): void {
  if (inst.fake.pollsLeft > 0) inst.fake.pollsLeft--;
  if (inst.fake.pollsLeft > 0 || !inst.fake.booted) return;
  if (inst.status === "pending") {
    inst.status = "active";
    inst.server_status = "ok";
    inst.main_ip = inst.fake.futureIpv4;
    if (inst.fake.enableIpv6) assignIpv6(inst);
    showInternalIp(inst);
  }
  if (inst.fake.pendingPlan) {
    inst.plan = inst.fake.pendingPlan;
    inst.fake.pendingPlan = "";
    inst.status = "active";
  }
}

// internal_ip shows the address of the first VPC attached, once the instance is active.
function showInternalIp(inst: FakeInstance): void {
  if (inst.status === "pending") return;
  inst.internal_ip = [...inst.fake.vpcs.values()][0] ?? "";
}

function assignIpv6(inst: FakeInstance): void {
  inst.v6_main_ip = inst.fake.futureIpv6;
  inst.v6_network = inst.fake.futureIpv6.replace(/::1$/, "::");
  inst.v6_network_size = 64;
}

function setFeature(inst: FakeInstance, feature: string, on: boolean): void {
  inst.features = inst.features.filter((f) => f !== feature);
  if (on) inst.features.push(feature);
}
