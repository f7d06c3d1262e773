// The project's root folder, wherever a script was started from: the
// scripts, the benchmarks and the loopback servers find dist/, templates/
// and their scratch folders under .tmp/ from here.
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");
