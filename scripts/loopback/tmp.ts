import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A scratch directory removed by the returned function. */
export function scratchDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `cp-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
