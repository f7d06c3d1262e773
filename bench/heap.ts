// What an API instance's JavaScript heap holds per open stream: two heap
// snapshots (`--heapsnapshot-signal`), before the streams open and while they
// are held, compared by constructor (self sizes and counts), divided by the
// streams held.
import { readFileSync } from "node:fs";

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count of the heap's objects, by type and constructor name. */
export function heapByConstructor(path: string): Map<string, { bytes: number; count: number }> {
  const heap = JSON.parse(readFileSync(path, "utf8")) as HeapSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const types = heap.snapshot.meta.node_types[0];
  const totals = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]!]!;
    // Strings and code are grouped by kind; objects and closures by their name.
    const name = ["object", "closure", "native"].includes(type)
      ? `${type} ${heap.strings[heap.nodes[i + nameAt]!]}`
      : type;
    const entry = totals.get(name) ?? { bytes: 0, count: 0 };
    entry.bytes += heap.nodes[i + sizeAt]!;
    entry.count += 1;
    totals.set(name, entry);
  }
  return totals;
}

export interface HeapGrowth {
  name: string;
  bytesPerStream: number;
  countPerStream: number;
}

/** The constructors that grew most between two snapshots, per stream held. */
export function heapGrowthPerStream(
  before: string,
  held: string,
  streams: number,
  top = 12,
): { total: number; rows: HeapGrowth[] } {
  const a = heapByConstructor(before);
  const b = heapByConstructor(held);
  const rows = [...b.entries()].map(([name, now]) => {
    const then = a.get(name) ?? { bytes: 0, count: 0 };
    return {
      name,
      bytesPerStream: Math.round((now.bytes - then.bytes) / streams),
      countPerStream: Math.round(((now.count - then.count) / streams) * 10) / 10,
    };
  });
  const total = rows.reduce((sum, r) => sum + r.bytesPerStream, 0);
  return { total, rows: rows.sort((x, y) => y.bytesPerStream - x.bytesPerStream).slice(0, top) };
}
