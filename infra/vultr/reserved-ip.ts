// Reserved IPs (govultr reserved_ip.go). Region and type are fixed at
// creation, so they replace; the label changes in place (PATCH). Attaching is
// the instance's business: it names the reserved IP when it is created.
import type { ApiReservedIp } from "./api-types.js";
import { InputChecker } from "./check.js";
import { diffInputs } from "../providers/diff.js";
import { deleteIgnoringMissing, getUnlessGone, type Provider, type SettingsSource } from "./provider.js";

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
      const { reserved_ip } = await settings().client().post<{ reserved_ip: ApiReservedIp }>("/v2/reserved-ips", {
        region: inputs.region,
        ip_type: inputs.ipType,
        label: inputs.label,
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
      await deleteIgnoringMissing(settings, `/v2/reserved-ips/${id}`);
    },
  };
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
