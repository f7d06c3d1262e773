// Reserved IPs (govultr reserved_ip.go). Region and type are fixed at
// creation, so they replace; the label changes in place (PATCH). Attaching is
// the instance's business: it names the reserved IP when it is created.
// Deleting waits until Vultr has let go of it: Vultr detaches a reserved IP
// some time after its instance's DELETE answered, and refuses to delete it
// before ("Unable to detach subnet", terraform-provider-vultr issue 348).
import type { ApiReservedIp } from "./api-types.js";
import { InputChecker } from "./check.js";
import { createOnce } from "./create-once.js";
import { classifyVultrError } from "./errors.js";
import { diffInputs } from "../providers/diff.js";
import {
  deleteIgnoringMissing,
  getUnlessGone,
  type Provider,
  type ProviderSettings,
  type SettingsSource,
} from "./provider.js";
import { formatDuration, retryWhile } from "./wait.js";

export interface ReservedIpInputs {
  region: string;
  ipType: "v4" | "v6";
  label: string;
}

export interface ReservedIpState extends ReservedIpInputs {
  /** The address itself (Vultr calls it subnet). */
  subnet: string;
  subnetSize: number;
  /** The instance it is attached to, "" when none. */
  instanceId: string;
}

export function reservedIpProvider(settings: SettingsSource): Provider<ReservedIpInputs, ReservedIpState> {
  return {
    async check(_olds, news) {
      return new InputChecker({ ...news })
        .text("region")
        .oneOf("ipType", ["v4", "v6"])
        .text("label", { allowEmpty: true })
        .result(news);
    },

    async diff(_id, olds, news) {
      const { changes, replaces } = diffInputs(olds, news, { replace: ["region", "ipType"], update: ["label"] });
      return replaces ? { changes, replaces } : { changes };
    },

    async create(inputs) {
      const s = settings();
      const body = { region: inputs.region, ip_type: inputs.ipType, label: inputs.label };
      const reserved_ip = await createOnce(s, {
        what: `Reserved IP "${inputs.label}" in ${inputs.region}`,
        post: () =>
          s
            .client()
            .post<{ reserved_ip: ApiReservedIp }>("/v2/reserved-ips", body)
            .then((answer) => answer.reserved_ip),
        list: ["/v2/reserved-ips", "reserved_ips"],
        alike: (r) => r.label === inputs.label && r.region === inputs.region && r.ip_type === inputs.ipType,
      });
      return { id: reserved_ip.id, outs: stateOf(inputs, reserved_ip) };
    },

    async read(id, props) {
      const found = await getUnlessGone<{ reserved_ip: ApiReservedIp }>(settings, `/v2/reserved-ips/${id}`);
      if (!found) return { id: "", props };
      const { reserved_ip } = found;
      return { id, props: stateOf({ ...props, region: reserved_ip.region, label: reserved_ip.label }, reserved_ip) };
    },

    async update(id, olds, news) {
      const answer = await settings()
        .client()
        .patch<{ reserved_ip: ApiReservedIp }>(`/v2/reserved-ips/${id}`, { label: news.label });
      // govultr reads the updated reserved IP from the answer; keep the old state if it sent none.
      return { outs: answer ? stateOf(news, answer.reserved_ip) : { ...olds, ...news } };
    },

    async delete(id) {
      const s = settings();
      await retryWhile(
        () => deleteIgnoringMissing(settings, `/v2/reserved-ips/${id}`),
        (error) => classifyVultrError(error) === "attached",
        { firstDelayMs: s.pollIntervalMs, maxDelayMs: s.maxBackoffMs, timeoutMs: s.reservedIpReleaseTimeoutMs },
        (error) => stillAttachedError(s, id, error),
      );
    },
  };
}

/** Says which instance still holds the address and the ways out. */
async function stillAttachedError(s: ProviderSettings, id: string, cause: unknown): Promise<Error> {
  const found = await s
    .client()
    .get<{ reserved_ip: ApiReservedIp }>(`/v2/reserved-ips/${id}`)
    .catch(() => undefined);
  const address = found ? `${found.reserved_ip.subnet} (${id})` : id;
  const holder = found?.reserved_ip.instance_id ? `instance ${found.reserved_ip.instance_id}` : "an instance";
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `Reserved IP ${address} is still attached to ${holder} after ${formatDuration(s.reservedIpReleaseTimeoutMs)}, ` +
      "and Vultr deletes no attached reserved IP. If that instance was just deleted, Vultr releases the address " +
      "shortly: run pulumi again in a few minutes. If it still runs, delete or replace it first, or detach the " +
      `address in the Vultr console (Network, Reserved IPs), then run pulumi again. (${reason})`,
    { cause },
  );
}

function stateOf(inputs: ReservedIpInputs, api: ApiReservedIp): ReservedIpState {
  return {
    region: inputs.region,
    ipType: inputs.ipType,
    label: inputs.label,
    subnet: api.subnet,
    subnetSize: api.subnet_size,
    instanceId: api.instance_id ?? "",
  };
}
