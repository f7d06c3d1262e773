// Time to first token and the gap between tokens on each path, at a given
// concurrency, over kept-alive connections (after a warm-up), so the figure is
// what each layer adds, not connection set-up.
import type { Platform } from "../platform.js";
import { keepAliveAgents, pool } from "../sse-load.js";
import { distribution, type Distribution } from "../stats.js";
import { PATHS, answerOn, type PathName } from "./paths.js";

export interface PathLatency {
  ttftMs: Distribution;
  gapMs: Distribution;
  errors: number;
}

export async function latency(
  platform: Platform,
  options: { concurrency: number; answers: number; deadline: number },
): Promise<Record<PathName, PathLatency>> {
  // Short answers at a steady pace: 20 tokens, 2 ms apart.
  platform.setReply(20, 2);
  const result = {} as Record<PathName, PathLatency>;
  for (const path of PATHS) {
    const agents = keepAliveAgents();
    try {
      await pool(options.concurrency * 2, options.concurrency, options.deadline, () =>
        answerOn(platform, path, agents),
      );
      const outcomes = await pool(options.answers, options.concurrency, options.deadline, () =>
        answerOn(platform, path, agents),
      );
      result[path] = {
        ttftMs: distribution(outcomes.flatMap((o) => (o.ttftMs === null ? [] : [o.ttftMs]))),
        gapMs: distribution(outcomes.flatMap((o) => o.gapsMs)),
        errors: outcomes.filter((o) => o.error || !o.completed).length,
      };
    } finally {
      agents.destroy();
    }
  }
  return result;
}
