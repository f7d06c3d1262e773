// The chunk size a snapshot and a restore use, from the server's max_payload.
import { describe, expect, it } from "vitest";
import {
  MAX_CHUNK_BYTES,
  RESTORE_CHUNKS_IN_FLIGHT,
  RESTORE_PING_MS,
  chunkBytes,
} from "../../scripts/backup/chunking.js";

describe("chunkBytes", () => {
  it("takes 1 MiB chunks from a server with the default max_payload of 1 MiB (not the old 128 KiB)", () => {
    expect(chunkBytes(1024 * 1024)).toBe(1024 * 1024);
  });

  it("stays at 1 MiB for a server that allows larger messages", () => {
    expect(chunkBytes(8 * 1024 * 1024)).toBe(MAX_CHUNK_BYTES);
  });

  it("stays within a smaller max_payload, which a restore's published chunks must not exceed", () => {
    expect(chunkBytes(64 * 1024)).toBe(64 * 1024);
    expect(chunkBytes(1000)).toBe(1000);
  });

  it("falls back to 128 KiB when the server does not say", () => {
    for (const unknown of [undefined, 0, -1, Number.NaN]) expect(chunkBytes(unknown)).toBe(128 * 1024);
  });

  it("keeps no more than two restore chunks on the wire, and more than one", () => {
    expect(RESTORE_CHUNKS_IN_FLIGHT).toBe(2);
  });

  it("pings while restore chunks are on the wire well within Linux's 40 ms delayed acknowledgement", () => {
    expect(RESTORE_PING_MS).toBeGreaterThan(0);
    expect(RESTORE_PING_MS).toBeLessThanOrEqual(5);
  });
});
