// VPCs (govultr vpc.go): the private network the nodes and the load balancer
// talk over. Region and subnet are fixed at creation, so they replace; the
// description changes in place (PUT). Vultr refuses to delete a VPC while an
// instance or load balancer is attached to it, and lets go of those some time
// after their own DELETE answered, so deleting waits for that, within a bound.
import type { ApiVpc } from "./api-types.js";
import { InputChecker, UNKNOWN } from "./check.js";
import { createOnce } from "./create-once.js";
import { classifyVultrError } from "./errors.js";
import { diffInputs, type DiffRules } from "../providers/diff.js";
import {
  deleteIgnoringMissing,
  getUnlessGone,
  type Provider,
  type ProviderSettings,
  type SettingsSource,
} from "./provider.js";
import { VPC_PREFIX_RANGE, vpcSubnetProblem } from "./vpc-subnet.js";
import { formatDuration, retryWhile } from "./wait.js";

export interface VpcInputs {
  region: string;
  description: string;
  /** The network address, e.g. "10.20.0.0". */
  v4Subnet: string;
  /** Its prefix length, e.g. 24. */
  v4SubnetMask: number;
}

export interface VpcState extends VpcInputs {
  dateCreated: string;
}

/**
 * Replaced: region (a VPC serves one location) and the subnet (the API has
 * no call that changes it: the update takes only a description).
 * Updated in place (PUT /v2/vpcs/{id}): description.
 */
export const VPC_DIFF_RULES: DiffRules<VpcInputs> = {
  replace: ["region", "v4Subnet", "v4SubnetMask"],
  update: ["description"],
};

export function vpcProvider(settings: SettingsSource): Provider<VpcInputs, VpcState> {
  return {
    async check(_olds, news) {
      const checker = new InputChecker({ ...news })
        .text("region")
        .text("description", { allowEmpty: true })
        .text("v4Subnet")
        .integer("v4SubnetMask", VPC_PREFIX_RANGE.min, VPC_PREFIX_RANGE.max);
      const known = news.v4Subnet !== UNKNOWN && (news.v4SubnetMask as unknown) !== UNKNOWN;
      // The network is judged with its prefix, so only once the prefix itself is right.
      const problem = known && checker.failures.length === 0 ? vpcSubnetProblem(news.v4Subnet, news.v4SubnetMask) : "";
      if (problem) checker.fail("v4Subnet", problem);
      return checker.result(news);
    },

    async diff(_id, olds, news) {
      const { changes, replaces } = diffInputs(olds, news, VPC_DIFF_RULES);
      return replaces ? { changes, replaces } : { changes };
    },

    async create(inputs) {
      const s = settings();
      const body = {
        region: inputs.region,
        description: inputs.description,
        v4_subnet: inputs.v4Subnet,
        v4_subnet_mask: inputs.v4SubnetMask,
      };
      // A VPC costs nothing, but a second one with the same subnet would split the nodes between two networks.
      const vpc = await createOnce(s, {
        what: `VPC ${inputs.v4Subnet}/${inputs.v4SubnetMask} in ${inputs.region}`,
        post: () =>
          s
            .client()
            .post<{ vpc: ApiVpc }>("/v2/vpcs", body)
            .then((answer) => answer.vpc),
        list: ["/v2/vpcs", "vpcs"],
        alike: (v) =>
          v.region === inputs.region &&
          v.v4_subnet === inputs.v4Subnet &&
          v.v4_subnet_mask === inputs.v4SubnetMask &&
          v.description === inputs.description,
      });
      return { id: vpc.id, outs: stateOf(inputs, vpc) };
    },

    async read(id, props) {
      const found = await getUnlessGone<{ vpc: ApiVpc }>(settings, `/v2/vpcs/${id}`);
      if (!found) return { id: "", props };
      const { vpc } = found;
      return {
        id,
        props: stateOf(
          {
            region: vpc.region,
            description: vpc.description,
            v4Subnet: vpc.v4_subnet,
            v4SubnetMask: vpc.v4_subnet_mask,
          },
          vpc,
        ),
      };
    },

    async update(id, olds, news) {
      await settings().client().put(`/v2/vpcs/${id}`, { description: news.description });
      return { outs: { ...stateOf(news, { date_created: olds.dateCreated }) } };
    },

    async delete(id) {
      const s = settings();
      await retryWhile(
        () => deleteIgnoringMissing(settings, `/v2/vpcs/${id}`),
        (error) => classifyVultrError(error) === "attached",
        { firstDelayMs: s.pollIntervalMs, maxDelayMs: s.maxBackoffMs, timeoutMs: s.vpcReleaseTimeoutMs },
        (error) => stillInUseError(s, id, error),
      );
    },
  };
}

/** Says that the VPC is still in use, and the ways out. */
function stillInUseError(s: ProviderSettings, id: string, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `VPC ${id} still has an instance or load balancer attached after ${formatDuration(s.vpcReleaseTimeoutMs)}, ` +
      "and Vultr deletes no VPC in use. If they were just deleted, Vultr lets go of them shortly: run pulumi again " +
      "in a few minutes. If one still runs, delete it or detach it from the VPC (Vultr console, Network, VPC " +
      `Networks, Attached), then run pulumi again. (${reason})`,
    { cause },
  );
}

function stateOf(inputs: VpcInputs, api: Pick<ApiVpc, "date_created">): VpcState {
  return {
    region: inputs.region,
    description: inputs.description,
    v4Subnet: inputs.v4Subnet,
    v4SubnetMask: inputs.v4SubnetMask,
    dateCreated: api.date_created,
  };
}
