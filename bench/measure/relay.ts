// Relay capacity: many concurrent long answers, the fake sending tokens as
// fast as its timer allows, and what each path delivers per second and
// costs in CPU seconds per 1,000 events.
import type { Platform } from "../platform.js";
import { keepAliveAgents, pool } from "../sse-load.js";
import { round } from "../stats.js";
import { cpuDuring } from "../usage.js";
import { PATHS, answerOn, conversationsAhead, workersOf, type PathName } from "./paths.js";

export interface PathRelay {
  eventsPerSecond: number;
  cpuSecondsPer1000Events: number;
  tokens: number;
  errors: number;
}

export async function relay(
  platform: Platform,
  options: { concurrency: number; answers: number; tokens: number; deadline: number },
): Promise<Record<PathName, PathRelay>> {
  platform.setReply(options.tokens, 0);
  const result = {} as Record<PathName, PathRelay>;
  for (const path of PATHS) {
    const agents = keepAliveAgents();
    try {
      const conversations = await conversationsAhead(platform, path, options.answers, agents);
      const started = performance.now();
      const { value: outcomes, cpu } = await cpuDuring(workersOf(platform, path), () =>
        pool(options.answers, options.concurrency, options.deadline, (i) =>
          answerOn(platform, path, agents, conversations[i]),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      const tokens = outcomes.reduce((sum, o) => sum + o.tokens, 0);
      result[path] = {
        eventsPerSecond: round(tokens / seconds, 0),
        cpuSecondsPer1000Events: round((cpu / tokens) * 1000, 3),
        tokens,
        errors: outcomes.filter((o) => o.error || !o.completed).length,
      };
    } finally {
      agents.destroy();
    }
  }
  return result;
}
