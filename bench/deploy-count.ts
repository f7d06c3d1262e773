// How many app-only deploys the deploy measure makes (bench/measure/deploy.ts):
// BENCH_DEPLOYS or --deploys, else the caller's default (1 in the full run,
// 20 in `npm run bench:deploys`). Bounded, so a typo cannot start a run of hours.
export const MAX_DEPLOYS = 200;

export function deployCount(value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEPLOYS)
    throw new Error(
      `BENCH_DEPLOYS (or --deploys) is ${JSON.stringify(value)}: use a whole number of deploys from 1 to ${MAX_DEPLOYS}, e.g. BENCH_DEPLOYS=20`,
    );
  return count;
}
