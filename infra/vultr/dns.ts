// DNS zones and records in Vultr DNS (govultr domain.go, domain_record.go).
// A zone is named by its domain, so its id is the domain and a new name is a
// new zone. A record's data and TTL change in place (PATCH); its zone, name
// and type identify it, so a change there replaces it.
import type { ApiDomain, ApiDomainRecord } from "./api-types.js";
import { InputChecker } from "./check.js";
import { diffInputs, sameAddress } from "../providers/diff.js";
import { VultrApiError } from "./client.js";
import { deleteIgnoringMissing, getUnlessGone, isGone, type Provider, type SettingsSource } from "./provider.js";

export interface DnsDomainInputs {
  domain: string;
}

export type DnsDomainState = DnsDomainInputs;

export function dnsDomainProvider(settings: SettingsSource): Provider<DnsDomainInputs, DnsDomainState> {
  return {
    async check(_olds, news) {
      return new InputChecker({ ...news }).text("domain").result(news);
    },

    async diff(_id, olds, news) {
      const { changes, replaces } = diffInputs(olds, news, { replace: ["domain"], update: [] });
      return replaces ? { changes, replaces } : { changes };
    },

    // Without "ip" Vultr creates the zone empty; with it, Vultr would add its
    // own default records, which this stack does not manage.
    async create(inputs) {
      let created: ApiDomain;
      try {
        ({ domain: created } = await settings()
          .client()
          .post<{ domain: ApiDomain }>("/v2/domains", { domain: inputs.domain }));
      } catch (error) {
        if (isRefusal(error)) await refuseExistingZone(settings, inputs.domain, error);
        throw error;
      }
      // The state keeps the input's spelling; Vultr may lower-case it, which must not read as a new name.
      return { id: created.domain, outs: { domain: inputs.domain } };
    },

    async read(id, props) {
      const found = await getUnlessGone<{ domain: ApiDomain }>(settings, `/v2/domains/${id}`);
      if (!found) return { id: "", props };
      const same = found.domain.domain.toLowerCase() === props.domain.toLowerCase();
      return { id, props: { domain: same ? props.domain : found.domain.domain } };
    },

    // Deleting a zone deletes its records with it.
    async delete(id) {
      await deleteIgnoringMissing(settings, `/v2/domains/${id}`);
    },
  };
}

// A 4xx other than the key's: the request itself was refused (a zone that
// exists, a bad name). Vultr's wording for an existing zone is not public, so
// the zone is looked up rather than the message matched.
function isRefusal(error: unknown): error is VultrApiError {
  return (
    error instanceof VultrApiError &&
    error.status >= 400 &&
    error.status < 500 &&
    ![401, 403, 429].includes(error.status)
  );
}

/**
 * The zone is already in the account: the stack does not take it over, since
 * nothing on a Vultr zone (no tag, no label) proves this stack made it, and
 * destroying the stack would delete it with every record. The operator says
 * so explicitly instead (createDnsZone false: records only, zone left alone).
 */
async function refuseExistingZone(settings: SettingsSource, domain: string, refusal: VultrApiError): Promise<void> {
  const found = await getUnlessGone<{ domain: ApiDomain }>(settings, `/v2/domains/${domain}`).catch(() => undefined);
  if (!found) return;
  const s = settings();
  const records = await s
    .client()
    .listAll<ApiDomainRecord>(`/v2/domains/${domain}/records`, "records", { perPage: s.perPage })
    .catch(() => undefined);
  const holding = records ? `, ${records.length} record${records.length === 1 ? "" : "s"}` : "";
  throw new Error(
    `The DNS zone "${domain}" already exists in this Vultr account (added ${found.domain.date_created}${holding}). ` +
      "The stack only manages a zone it creates, since destroying the stack deletes that zone with all its records. " +
      "To add the stack's records to this zone and leave the zone itself alone: pulumi config set createDnsZone false. " +
      "If nothing uses the zone, you may instead delete it under Network, DNS in the Vultr console and run pulumi up again. " +
      `(${refusal.message})`,
    { cause: refusal },
  );
}

interface DnsDomainInfo {
  domain: string;
  dateCreated: string;
  dnsSec: string;
}

/** Looks up a zone that exists in the account; fails saying how to get one. */
async function getDnsDomain(settings: SettingsSource, domain: string): Promise<DnsDomainInfo> {
  try {
    const { domain: found } = await settings().client().get<{ domain: ApiDomain }>(`/v2/domains/${domain}`);
    return { domain: found.domain, dateCreated: found.date_created, dnsSec: found.dns_sec };
  } catch (error) {
    if (!isGone(error)) throw error;
    throw new Error(
      `The DNS zone "${domain}" is not in this Vultr account. Add it under Network, DNS in the Vultr console, ` +
        "or let the stack create it: pulumi config set createDnsZone true",
      { cause: error },
    );
  }
}

export interface DnsRecordInputs {
  domain: string;
  /** Name within the zone; "" is the apex. */
  name: string;
  type: string;
  data: string;
  ttl: number;
}

export type DnsRecordState = DnsRecordInputs;

const RECORD_TYPES = ["A", "AAAA", "CNAME", "NS", "MX", "SRV", "TXT", "CAA", "SSHFP"];

export function dnsRecordProvider(settings: SettingsSource): Provider<DnsRecordInputs, DnsRecordState> {
  return {
    async check(_olds, news) {
      return (
        new InputChecker({ ...news })
          .text("domain")
          .text("name", { allowEmpty: true })
          .oneOf("type", RECORD_TYPES)
          // An empty address (an instance without IPv6, say) would otherwise reach Vultr as a bad record.
          .text("data")
          .integer("ttl", 1, 2_147_483_647)
          .result(news)
      );
    },

    async diff(_id, olds, news) {
      const { changes, replaces } = diffInputs(olds, news, {
        replace: ["domain", "name", "type"],
        update: ["data", "ttl"],
      });
      return replaces ? { changes, replaces } : { changes };
    },

    async create(inputs) {
      try {
        const { record } = await settings()
          .client()
          .post<{ record: ApiDomainRecord }>(`/v2/domains/${inputs.domain}/records`, {
            name: inputs.name,
            type: inputs.type,
            data: inputs.data,
            ttl: inputs.ttl,
          });
        return { id: record.id, outs: pickRecord(inputs) };
      } catch (error) {
        // A zone the stack uses but does not create (createDnsZone false) may
        // be missing: say so, and how to fix it, rather than "not found".
        if (isGone(error)) await getDnsDomain(settings, inputs.domain);
        throw error;
      }
    },

    async read(id, props) {
      const found = await getUnlessGone<{ record: ApiDomainRecord }>(
        settings,
        `/v2/domains/${props.domain}/records/${id}`,
      );
      if (!found) return { id: "", props };
      const { record } = found;
      const sameData =
        record.data === props.data || (isAddressType(record.type) && sameAddress(record.data, props.data));
      return {
        id,
        props: { ...pickRecord(props), type: record.type, data: sameData ? props.data : record.data, ttl: record.ttl },
      };
    },

    async update(id, _olds, news) {
      await settings().client().patch(`/v2/domains/${news.domain}/records/${id}`, { data: news.data, ttl: news.ttl });
      return { outs: pickRecord(news) };
    },

    async delete(id, props) {
      // Deleting the zone first deletes its records, so a missing record is done.
      await deleteIgnoringMissing(settings, `/v2/domains/${props.domain}/records/${id}`);
    },
  };
}

function isAddressType(type: string): boolean {
  return type === "A" || type === "AAAA";
}

function pickRecord(from: DnsRecordInputs): DnsRecordState {
  return { domain: from.domain, name: from.name, type: from.type, data: from.data, ttl: from.ttl };
}
