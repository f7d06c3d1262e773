// A stored context is one NATS message, so it must fit in bytes, not only in
// the model's token budget (one character may take up to 4 bytes in UTF-8,
// and JSON escapes more). The oldest turns go first; the newest always stays.
import type { ChatTurn } from "../providers/types.js";

export function fitInBytes(turns: readonly ChatTurn[], maxBytes: number): ChatTurn[] {
  let start = 0;
  let size = Buffer.byteLength(JSON.stringify(turns));
  while (size > maxBytes && start < turns.length - 1) {
    size -= Buffer.byteLength(JSON.stringify(turns[start])) + 1;
    start++;
  }
  // A context must start with the user, as the providers require.
  while (start < turns.length - 1 && turns[start]!.role !== "user") start++;
  return turns.slice(start);
}
