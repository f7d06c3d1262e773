// DNS zones and records (govultr domain.go, domain_record.go): record data
// must fit its type; a zone created with an ip gets Vultr's default records.
// A zone is created with 200, not 201 (Vultr's OpenAPI document). A second
// create of a zone in the account is a 400 saying it already exists: no
// public source shows Vultr's exact words, so the provider must not depend
// on them (infra/vultr/dns.ts asks for the zone instead).
import { randomUUID } from "node:crypto";
import { isIP } from "node:net";
import { INVALID_DOMAIN } from "./catalogue.js";
import type { FakeContext } from "./context.js";
import { found, HttpError, list, now, optionalText, text, type Route } from "./strict.js";
import type { FakeRecord } from "./types.js";

const RECORD_TYPES = ["A", "AAAA", "CNAME", "NS", "MX", "SRV", "TXT", "CAA", "SSHFP"];

export function dnsRoutes({ state }: FakeContext): Route[] {
  // Vultr answers a missing zone (and its records' paths) with 400 "Invalid domain".
  const zone = (name: string | undefined) => {
    const domain = state.domains.get(name ?? "");
    if (!domain) throw new HttpError(400, INVALID_DOMAIN);
    return domain;
  };

  function recordsOf(name: string | undefined): Map<string, FakeRecord> {
    const domain = zone(name).domain;
    const records = state.records.get(domain) ?? new Map<string, FakeRecord>();
    state.records.set(domain, records);
    return records;
  }

  return [
    ["GET", /^\/v2\/domains$/, (_p, _b, q) => list("domains", [...state.domains.values()], q)],
    [
      "POST",
      /^\/v2\/domains$/,
      (_p, body) => {
        const name = text(body, "domain").toLowerCase();
        if (!/^([a-z0-9-]+\.)+[a-z]{2,}$/.test(name)) throw new HttpError(400, "Invalid domain");
        if (state.domains.has(name)) throw new HttpError(400, "Domain already exists");
        state.domains.set(name, { domain: name, date_created: now(), dns_sec: "disabled" });
        const records = new Map<string, FakeRecord>();
        // With an ip Vultr fills the zone with its defaults (approximated here); without one it stays empty.
        const ip = optionalText(body, "ip");
        if (ip) {
          for (const [type, recordName, data, priority] of [
            ["A", "", ip, -1],
            ["MX", "", name, 10],
          ] as const) {
            const id = randomUUID();
            records.set(id, { id, type, name: recordName, data, priority, ttl: 300 });
          }
        }
        state.records.set(name, records);
        return { status: 200, body: { domain: zone(name) } };
      },
    ],
    ["GET", /^\/v2\/domains\/([^/]+)$/, ([name]) => ({ status: 200, body: { domain: zone(name) } })],
    [
      "DELETE",
      /^\/v2\/domains\/([^/]+)$/,
      ([name]) => {
        state.domains.delete(zone(name).domain);
        state.records.delete(name ?? "");
        return { status: 204 };
      },
    ],
    ["GET", /^\/v2\/domains\/([^/]+)\/records$/, ([name], _b, q) => list("records", [...recordsOf(name).values()], q)],
    [
      "POST",
      /^\/v2\/domains\/([^/]+)\/records$/,
      ([name], body) => {
        const records = recordsOf(name);
        const type = text(body, "type");
        if (!RECORD_TYPES.includes(type)) throw new HttpError(400, "Invalid record type");
        const data = optionalText(body, "data");
        checkRecordData(type, data);
        const id = randomUUID();
        const record = {
          id,
          type,
          name: optionalText(body, "name"),
          data,
          priority: typeof body.priority === "number" ? body.priority : -1,
          ttl: typeof body.ttl === "number" ? body.ttl : 300,
        };
        records.set(id, record);
        return { status: 201, body: { record } };
      },
    ],
    [
      "GET",
      /^\/v2\/domains\/([^/]+)\/records\/([^/]+)$/,
      ([name, id]) => ({ status: 200, body: { record: found(recordsOf(name).get(id ?? ""), "Record not found") } }),
    ],
    [
      "PATCH",
      /^\/v2\/domains\/([^/]+)\/records\/([^/]+)$/,
      ([name, id], body) => {
        const record = found(recordsOf(name).get(id ?? ""), "Record not found");
        if ("data" in body) {
          checkRecordData(record.type, optionalText(body, "data"));
          record.data = optionalText(body, "data");
        }
        if (typeof body.ttl === "number") record.ttl = body.ttl;
        if ("name" in body) record.name = optionalText(body, "name");
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/domains\/([^/]+)\/records\/([^/]+)$/,
      ([name, id]) => {
        const records = recordsOf(name);
        found(records.get(id ?? ""), "Record not found");
        records.delete(id ?? "");
        return { status: 204 };
      },
    ],
  ];
}

function checkRecordData(type: string, data: string): void {
  if (data === "") throw new HttpError(400, "Invalid record data");
  if (type === "A" && isIP(data) !== 4) throw new HttpError(400, "Invalid IPv4 address");
  if (type === "AAAA" && isIP(data) !== 6) throw new HttpError(400, "Invalid IPv6 address");
}
