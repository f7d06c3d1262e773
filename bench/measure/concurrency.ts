// How many slow streams the full path holds open at once with no error, and
// what each costs the API in memory. Streams are opened at a bounded pace,
// each a slow answer (a token every few seconds, longer than the whole
// opening phase), counted once its first token has come through Caddy,
// the API and JetStream; then all are held together for a moment and closed.
import { setTimeout as sleep } from "node:timers/promises";
import { chatTarget, newConversation, type Platform } from "../platform.js";
import { keepAliveAgents, openStream, type StreamOutcome } from "../sse-load.js";
import { round } from "../stats.js";
import { rssBytes } from "../usage.js";

export interface Concurrency {
  attempted: number;
  /** Established (a first token) and still open when all were counted. */
  held: number;
  errors: number;
  /** The API instances' resident memory growth, per held stream. */
  rssPerStreamKb: number;
  apiRssBeforeMb: number;
  apiRssHeldMb: number;
  openSeconds: number;
  firstErrors: string[];
}

export async function holdStreams(
  platform: Platform,
  options: { streams: number; openPerSecond: number; deadline: number },
): Promise<Concurrency> {
  const openSeconds = options.streams / options.openPerSecond;
  // A token every 5 s, for twice as long as opening them all should take and a minute more.
  const gapMs = 5_000;
  platform.setReply(Math.ceil((openSeconds * 2 + 60) / (gapMs / 1000)) + 2, gapMs);
  const agents = keepAliveAgents();
  const apiRss = () => platform.pids.apis.reduce((sum, pid) => sum + rssBytes(pid), 0);
  try {
    // Conversations first (not part of what is held), then the baseline memory.
    const conversations: string[] = [];
    for (let i = 0; i < options.streams && Date.now() < options.deadline; i++)
      conversations.push(await newConversation(platform, agents));
    await sleep(1000);
    const before = apiRss();
    let established = 0;
    let endedWithoutToken = 0;
    const outcomes: Array<Promise<StreamOutcome>> = [];
    const controllers: AbortController[] = [];
    const started = Date.now();
    for (const [i, conversation] of conversations.entries()) {
      if (Date.now() > options.deadline) break;
      const controller = new AbortController();
      controllers.push(controller);
      const outcome = openStream(chatTarget(platform, conversation), {
        agents,
        timeoutMs: Math.max(1000, options.deadline - Date.now()),
        onFirstToken: () => void established++,
        signal: controller.signal,
      });
      void outcome.then((o) => {
        if (o.tokens === 0) endedWithoutToken++;
      });
      outcomes.push(outcome);
      // A bounded opening pace: a burst of new TLS connections is another benchmark.
      const due = started + ((i + 1) * 1000) / options.openPerSecond;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    // Until every stream has its first token or has ended without one.
    while (established + endedWithoutToken < outcomes.length && Date.now() < options.deadline) await sleep(250);
    await sleep(2000);
    const held = apiRss();
    const settledEarly = await Promise.all(outcomes.map((o) => Promise.race([o, Promise.resolve(undefined)])));
    const stillOpen = settledEarly.filter((o) => o === undefined).length;
    for (const controller of controllers) controller.abort();
    const finished = await Promise.all(outcomes);
    const errors = finished.filter((o) => o.error && o.error !== "aborted");
    return {
      attempted: outcomes.length,
      held: Math.min(stillOpen, established),
      errors: errors.length,
      rssPerStreamKb: round((held - before) / 1024 / Math.max(1, established), 1),
      apiRssBeforeMb: round(before / 1024 / 1024, 1),
      apiRssHeldMb: round(held / 1024 / 1024, 1),
      openSeconds: round((Date.now() - started) / 1000, 1),
      firstErrors: [...new Set(errors.map((o) => o.error!))].slice(0, 5),
    };
  } finally {
    agents.destroy();
  }
}
