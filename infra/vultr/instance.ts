// Vultr instances (govultr instance.go). Create looks the OS up by name,
// posts the instance and waits until it is active with its addresses; update
// PATCHes what Vultr can change on a running server; the rest replaces.
import { setTimeout as sleep } from "node:timers/promises";
import type { ApiInstance, ApiInstanceCreate, ApiInstanceUpdate, ApiReservedIp, ApiVpc } from "./api-types.js";
import { InputChecker } from "./check.js";
import { VultrApiError } from "./client.js";
import { createOnce } from "./create-once.js";
import { diffInputs, type DiffRules } from "../providers/diff.js";
import { planToRequest, stillResizing } from "./instance-resize.js";
import { replaceRefusal, sshKeysNote } from "./instance-replace.js";
import { untilUnlocked } from "./instance-lock.js";
import { findOsId } from "./os.js";
import { ipv4InNetwork } from "../config/cidr.js";
import {
  deleteIgnoringMissing,
  getUnlessGone,
  isGone,
  PartialCreateError,
  type Provider,
  type ProviderSettings,
  type SettingsSource,
} from "./provider.js";
import { formatDuration, pollUntil, WaitTimeoutError } from "./wait.js";

export interface InstanceInputs {
  region: string;
  plan: string;
  /** Exact name from GET /v2/os, e.g. "Ubuntu 24.04 LTS x64". */
  osName: string;
  hostname: string;
  label: string;
  enableIpv6: boolean;
  backups: "enabled" | "disabled";
  activationEmail: boolean;
  ddosProtection: boolean;
  /** "" for no firewall group. */
  firewallGroupId: string;
  sshKeyIds: string[];
  /** A reserved IPv4 to use as the main address; it survives a rebuild. */
  reservedIpId?: string;
  /** A VPC (same region) to attach: the instance gets a private address in its subnet. "" or none for no VPC. */
  vpcId?: string;
  tags: string[];
  /** Cloud-init user data as plain text; sent base64-encoded. */
  userData: string;
  /** The operator allows a plan that replaces this instance (stack config allowReplace); else such a diff is refused. */
  allowReplace?: boolean;
}

export interface InstanceState extends InstanceInputs {
  osId: number;
  /** The public IPv4: the reserved IP's address when reservedIpId is set. */
  mainIp: string;
  v6MainIp: string;
  /** The private address in the VPC (vpcId); "" without one. */
  internalIp: string;
  status: string;
  dateCreated: string;
}

/**
 * Replaced, and why:
 * - region: an instance cannot move between data centres.
 * - osName: another OS means a reinstall, a new disk; a new instance is the honest equivalent.
 * - hostname: the API sets it only at creation or with a reinstall (terraform-provider-vultr forces new too).
 * - userData: cloud-init reads it on the first boot only, so a new value only means something on a new instance.
 * - reservedIpId: the main IPv4 is chosen at creation (reserved_ipv4); attaching later adds a second address.
 * Updated in place (PATCH /v2/instances/{id}):
 * - vpcId: by detaching the old VPC and attaching the new one (POST /v2/instances/{id}/vpcs/detach, /attach),
 *   which keeps the disk; the private address changes with it.
 * - plan (Vultr only resizes upwards; update explains a downgrade), label, tags, firewallGroupId,
 *   enableIpv6, backups, ddosProtection.
 * - activationEmail only matters at creation; a change is recorded, nothing is sent.
 * - sshKeyIds likewise: Vultr copies keys in only at creation (the update call has no field for them),
 *   so new ids (a deleted key made again) are recorded and said (sshKeysNote), and the server keeps its data.
 * A replacement is refused unless allowReplace is set (instance-replace.ts): it loses the server's disk.
 */
export const INSTANCE_DIFF_RULES: DiffRules<InstanceInputs> = {
  replace: ["region", "osName", "hostname", "userData", "reservedIpId"],
  update: [
    "vpcId",
    "plan",
    "label",
    "tags",
    "firewallGroupId",
    "enableIpv6",
    "backups",
    "ddosProtection",
    "activationEmail",
    "sshKeyIds",
  ],
  unordered: ["tags", "sshKeyIds"],
};

const NO_ADDRESS = "0.0.0.0";

export function instanceProvider(settings: SettingsSource): Provider<InstanceInputs, InstanceState> {
  return {
    async check(_olds, news) {
      return new InputChecker({ ...news })
        .text("region")
        .text("plan")
        .text("osName")
        .text("hostname")
        .text("label", { allowEmpty: true })
        .flag("enableIpv6")
        .oneOf("backups", ["enabled", "disabled"])
        .flag("activationEmail")
        .flag("ddosProtection")
        .text("firewallGroupId", { allowEmpty: true })
        .texts("sshKeyIds")
        .text("reservedIpId", { optional: true, allowEmpty: true })
        .text("vpcId", { optional: true, allowEmpty: true })
        .texts("tags")
        .text("userData", { allowEmpty: true })
        .flag("allowReplace", { optional: true })
        .result(news);
    },

    // Pure: no API call, so a preview needs no key and no OS lookup.
    async diff(id, olds, news) {
      const { changes, changed, replaces } = diffInputs(olds, news, INSTANCE_DIFF_RULES);
      const refusal = replaceRefusal(id, olds, news, replaces ?? []);
      if (refusal) throw new Error(refusal);
      // The engine shows a dynamic provider's standard output in the plan.
      if (changed.includes("sshKeyIds")) console.log(sshKeysNote(id, olds, news));
      if (!replaces) return { changes };
      // A reserved IP is attached to one instance at a time: creating the
      // replacement first fails with "Floating IPv4 address is already attached
      // to another server" (terraform-provider-vultr issues 322 and 77), so the
      // old instance goes first.
      return news.reservedIpId ? { changes, replaces, deleteBeforeReplace: true } : { changes, replaces };
    },

    async create(inputs) {
      const s = settings();
      const osId = await findOsId(s, inputs.osName);
      const reserved = inputs.reservedIpId ? await reservedIpFor(s, inputs) : undefined;
      const vpc = inputs.vpcId ? await vpcFor(s, inputs) : undefined;
      const body = instanceCreateBody(inputs, osId);
      const created = await createOnce(s, {
        what: `Instance "${inputs.label}" in ${inputs.region}`,
        post: () => postInstance(s, body, reserved),
        list: ["/v2/instances", "instances"],
        alike: (i) => i.label === body.label && i.region === body.region && i.hostname === body.hostname,
      });
      // From here on the instance exists: any failure must leave it in Pulumi's state.
      try {
        const ready = await waitUntilReady(s, created.id, { inputs, reservedAddress: reserved?.subnet, vpc });
        return { id: created.id, outs: stateOf(inputs, ready) };
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new PartialCreateError(
          `Instance ${created.id} was created but is not ready: ${reason}. The next pulumi up waits for it again.`,
          created.id,
          { ...stateOf(inputs, created) },
          error,
        );
      }
    },

    async read(id, props) {
      const found = await getUnlessGone<{ instance: ApiInstance }>(settings, `/v2/instances/${id}`);
      if (!found) return { id: "", props };
      const { instance } = found;
      // Only what the API reports as such is refreshed; the rest (OS name,
      // user data, keys, reserved IP, the flags) is not readable back and stays.
      return {
        id,
        props: {
          ...pickInputs(props),
          region: instance.region,
          plan: instance.plan,
          label: instance.label,
          firewallGroupId: instance.firewall_group_id,
          tags: sameSet(instance.tags ?? [], props.tags) ? props.tags : (instance.tags ?? []),
          osId: instance.os_id,
          mainIp: instance.main_ip,
          v6MainIp: instance.v6_main_ip,
          internalIp: instance.internal_ip ?? "",
          status: instance.status,
          dateCreated: instance.date_created,
        },
      };
    },

    async update(id, olds, news) {
      const s = settings();
      const client = s.client();
      const { changed } = diffInputs(olds, news, INSTANCE_DIFF_RULES);
      // A VPC that is missing or in another region fails here, before a resize or any other change goes out.
      const vpc = news.vpcId ? await vpcFor(s, news) : undefined;
      const body: ApiInstanceUpdate = {};
      // The instance's own plan and status, not the state's: a resize an earlier up gave up on may be done.
      const plan = changed.includes("plan") ? await planToRequest(s, id, news.plan) : undefined;
      if (plan) body.plan = plan;
      if (changed.includes("label")) body.label = news.label;
      if (changed.includes("tags")) body.tags = news.tags;
      if (changed.includes("firewallGroupId")) body.firewall_group_id = news.firewallGroupId;
      if (changed.includes("enableIpv6")) body.enable_ipv6 = news.enableIpv6;
      if (changed.includes("backups")) body.backups = news.backups;
      if (changed.includes("ddosProtection")) body.ddos_protection = news.ddosProtection;
      if (Object.keys(body).length > 0) {
        await untilUnlocked(s, id, "update", () => client.patch(`/v2/instances/${id}`, body));
      }
      if (changed.includes("vpcId")) await moveVpc(s, id, olds.vpcId ?? "", news.vpcId ?? "");

      // Also finishes an instance whose create timed out (Pulumi calls update on it).
      const reserved = news.reservedIpId ? await reservedIpFor(s, news) : undefined;
      const ready = await waitUntilReady(s, id, {
        inputs: news,
        reservedAddress: reserved?.subnet,
        vpc,
        plan: changed.includes("plan") ? news.plan : undefined,
      }).catch((error: unknown) => {
        throw error instanceof WaitTimeoutError && changed.includes("plan")
          ? stillResizing(id, news.plan, error)
          : error;
      });
      return { outs: stateOf(news, ready) };
    },

    // Returns on the API's answer: Vultr frees the addresses (and a reserved IP)
    // on its own, a little later (the reserved IP's delete waits for that).
    async delete(id) {
      await untilUnlocked(settings(), id, "delete", () => deleteIgnoringMissing(settings, `/v2/instances/${id}`));
    },
  };
}

/** The create request: Vultr's field names, user data in base64, optional fields left out when empty. */
export function instanceCreateBody(inputs: InstanceInputs, osId: number): ApiInstanceCreate {
  return {
    region: inputs.region,
    plan: inputs.plan,
    os_id: osId,
    hostname: inputs.hostname,
    label: inputs.label,
    tags: inputs.tags,
    enable_ipv6: inputs.enableIpv6,
    backups: inputs.backups,
    activation_email: inputs.activationEmail,
    ddos_protection: inputs.ddosProtection,
    sshkey_id: inputs.sshKeyIds,
    ...(inputs.firewallGroupId ? { firewall_group_id: inputs.firewallGroupId } : {}),
    ...(inputs.reservedIpId ? { reserved_ipv4: inputs.reservedIpId } : {}),
    ...(inputs.vpcId ? { attach_vpc: [inputs.vpcId] } : {}),
    ...(inputs.userData ? { user_data: Buffer.from(inputs.userData, "utf8").toString("base64") } : {}),
  };
}

/** The reserved IP named by the inputs, checked before anything is created. */
async function reservedIpFor(s: ProviderSettings, inputs: InstanceInputs): Promise<ApiReservedIp> {
  const id = inputs.reservedIpId ?? "";
  let reserved: ApiReservedIp;
  try {
    ({ reserved_ip: reserved } = await s.client().get<{ reserved_ip: ApiReservedIp }>(`/v2/reserved-ips/${id}`));
  } catch (error) {
    if (isGone(error)) {
      throw new Error(`reservedIpId "${id}" is not a reserved IP in this Vultr account`, { cause: error });
    }
    throw error;
  }
  if (reserved.ip_type !== "v4") {
    throw new Error(`reservedIpId "${id}" is an ${reserved.ip_type} reserved IP; the main address must be IPv4`);
  }
  if (reserved.region !== inputs.region) {
    throw new Error(
      `reservedIpId "${id}" (${reserved.subnet}) is in region "${reserved.region}", the instance in "${inputs.region}"`,
    );
  }
  return reserved;
}

/** The VPC named by the inputs, checked before anything is created or attached. */
async function vpcFor(s: ProviderSettings, inputs: InstanceInputs): Promise<ApiVpc> {
  const id = inputs.vpcId ?? "";
  let vpc: ApiVpc;
  try {
    ({ vpc } = await s.client().get<{ vpc: ApiVpc }>(`/v2/vpcs/${id}`));
  } catch (error) {
    if (isGone(error)) throw new Error(`vpcId "${id}" is not a VPC in this Vultr account`, { cause: error });
    throw error;
  }
  if (vpc.region !== inputs.region) {
    throw new Error(
      `vpcId "${id}" (${vpc.v4_subnet}/${vpc.v4_subnet_mask}) is in region "${vpc.region}", the instance in ` +
        `"${inputs.region}"; an instance can only join a VPC of its own region`,
    );
  }
  return vpc;
}

/**
 * Takes the instance off its old VPC and onto the new one; the disk stays.
 * Each step may already be done: when an earlier up detached but failed to
 * attach, Pulumi's state still names the old VPC, so the detach is asked for
 * again and Vultr answers that the VPC is not attached. That answer (and
 * "already attached" to an attach) counts as the step done, so the move
 * finishes instead of failing on every later up.
 */
async function moveVpc(s: ProviderSettings, id: string, from: string, to: string): Promise<void> {
  const client = s.client();
  const step = async (action: VpcStep, vpcId: string) => {
    try {
      await untilUnlocked(s, id, "update", () =>
        client.request("POST", `/v2/instances/${id}/vpcs/${action}`, { body: { vpc_id: vpcId } }),
      );
    } catch (error) {
      if (!vpcStepAlreadyDone(action, error)) throw error;
    }
  };
  if (from) await step("detach", from);
  if (to) await step("attach", to);
}

export type VpcStep = "detach" | "attach";

const NOT_ATTACHED = /not attached/i;

/** Whether Vultr refused a VPC detach or attach because the instance is already where the step would take it. */
export function vpcStepAlreadyDone(step: VpcStep, error: unknown): boolean {
  if (!(error instanceof VultrApiError) || error.status !== 400) return false;
  return (step === "detach" ? NOT_ATTACHED : ALREADY_ATTACHED).test(error.vultrMessage);
}

const ALREADY_ATTACHED = /already attached/i;

/**
 * POST /v2/instances. With a reserved IP, Vultr may still hold it for the
 * instance deleted just before (delete-before-replace): the detach completes
 * after the DELETE has answered. So "already attached" is retried for a
 * while, as terraform-provider-vultr does, then explained.
 */
async function postInstance(
  s: ProviderSettings,
  body: ApiInstanceCreate,
  reserved: ApiReservedIp | undefined,
): Promise<ApiInstance> {
  const client = s.client();
  const deadline = Date.now() + s.reservedIpReleaseTimeoutMs;
  for (;;) {
    try {
      return (await client.post<{ instance: ApiInstance }>("/v2/instances", body)).instance;
    } catch (error) {
      const stillAttached = reserved && error instanceof VultrApiError && ALREADY_ATTACHED.test(error.vultrMessage);
      if (!stillAttached) throw error;
      if (Date.now() + s.pollIntervalMs <= deadline) {
        await sleep(s.pollIntervalMs);
        continue;
      }
      const holder = await client.get<{ reserved_ip: ApiReservedIp }>(`/v2/reserved-ips/${reserved.id}`);
      throw new Error(
        `Reserved IP ${reserved.subnet} (${reserved.id}) is still attached to instance ` +
          `"${holder.reserved_ip.instance_id || "unknown"}" after ${formatDuration(s.reservedIpReleaseTimeoutMs)}; ` +
          "an instance can only take a free reserved IP. Detach it from that instance (or delete the instance) " +
          `in the Vultr console, then run pulumi up again. (${error.message})`,
        { cause: error },
      );
    }
  }
}

interface Readiness {
  inputs: InstanceInputs;
  /** The reserved IP's address, which must become the main IP. */
  reservedAddress?: string;
  /** After a resize: the plan the instance must report. */
  plan?: string;
  /** The VPC whose subnet the private address must be in. */
  vpc?: ApiVpc;
}

/**
 * Active, with a real IPv4 (Vultr reports 0.0.0.0 until one is assigned),
 * the reserved address as main IP when one was asked for, an IPv6 address
 * when IPv6 is on (the AAAA record needs it), and the new plan after a resize.
 */
async function waitUntilReady(s: ProviderSettings, id: string, want: Readiness): Promise<ApiInstance> {
  const client = s.client();
  return pollUntil(
    `Instance ${id}`,
    async () => {
      const { instance } = await client.get<{ instance: ApiInstance }>(`/v2/instances/${id}`);
      const missing: string[] = [];
      if (instance.status !== "active") missing.push(`status ${instance.status}`);
      if (!instance.main_ip || instance.main_ip === NO_ADDRESS) missing.push(`main_ip ${instance.main_ip || "none"}`);
      else if (want.reservedAddress && instance.main_ip !== want.reservedAddress) {
        missing.push(`main_ip ${instance.main_ip}, not yet the reserved ${want.reservedAddress}`);
      }
      if (want.inputs.enableIpv6 && !instance.v6_main_ip) missing.push("no IPv6 address yet");
      if (want.plan && instance.plan !== want.plan) missing.push(`plan ${instance.plan}, resizing to ${want.plan}`);
      const vpcProblem = want.vpc ? privateAddressProblem(instance.internal_ip ?? "", want.vpc) : undefined;
      if (vpcProblem) missing.push(vpcProblem);
      return missing.length === 0 ? { done: true, value: instance } : { done: false, state: missing.join(", ") };
    },
    { intervalMs: s.pollIntervalMs, timeoutMs: s.instanceReadyTimeoutMs },
  );
}

/** Why the instance's private address is not (yet) one of the VPC's; undefined once it is. */
export function privateAddressProblem(
  internalIp: string,
  vpc: Pick<ApiVpc, "v4_subnet" | "v4_subnet_mask">,
): string | undefined {
  const network = `${vpc.v4_subnet}/${vpc.v4_subnet_mask}`;
  if (!internalIp) return `no private address in VPC ${network} yet`;
  if (!ipv4InNetwork(internalIp, vpc.v4_subnet, vpc.v4_subnet_mask)) {
    return `private address ${internalIp}, not yet one of VPC ${network}`;
  }
  return undefined;
}

function stateOf(inputs: InstanceInputs, instance: ApiInstance): InstanceState {
  return {
    ...pickInputs(inputs),
    osId: instance.os_id,
    mainIp: instance.main_ip,
    v6MainIp: instance.v6_main_ip,
    // Without a VPC there is no private address, whatever Vultr still shows for a VPC just detached.
    internalIp: inputs.vpcId ? (instance.internal_ip ?? "") : "",
    status: instance.status,
    dateCreated: instance.date_created,
  };
}

function pickInputs(from: InstanceInputs): InstanceInputs {
  return {
    region: from.region,
    plan: from.plan,
    osName: from.osName,
    hostname: from.hostname,
    label: from.label,
    enableIpv6: from.enableIpv6,
    backups: from.backups,
    activationEmail: from.activationEmail,
    ddosProtection: from.ddosProtection,
    firewallGroupId: from.firewallGroupId,
    sshKeyIds: from.sshKeyIds,
    ...(from.reservedIpId ? { reservedIpId: from.reservedIpId } : {}),
    ...(from.vpcId ? { vpcId: from.vpcId } : {}),
    tags: from.tags,
    userData: from.userData,
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");
}
