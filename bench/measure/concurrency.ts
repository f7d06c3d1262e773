// How many slow streams the full path holds open at once with no error, and
// what each costs the API in memory. Streams are opened at a bounded pace,
// each a slow answer (a token every few seconds, longer than the whole
// opening phase), counted once its first token has come through Caddy,
// the API and JetStream; then all are held together for a moment and closed.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chatTarget, newConversation, type Platform } from "../platform.js";
import { keepAliveAgents, openStream, type StreamOutcome } from "../sse-load.js";
import { round } from "../stats.js";
import { rssBytes } from "../usage.js";

export interface Concurrency {
  attempted: number;
  /** Open end to end (a first token, not ended) at the moment they were counted. */
  held: number;
  /** Refused, cut, or ended before they were counted. */
  errors: number;
  /** The API instances' resident memory growth, per held stream. */
  rssPerStreamKb: number;
  apiRssBeforeMb: number;
  apiRssHeldMb: number;
  /** From the first stream opened to the last. */
  openSeconds: number;
  firstErrors: string[];
  /** With heap snapshots asked for: the two files (before opening, while held). */
  heapSnapshots?: { before: string; held: string };
}

/** Has the API instance `pid` write a heap snapshot into `dir` (it runs with --heapsnapshot-signal); resolves to its path. */
async function heapSnapshot(pid: number, dir: string, deadline: number): Promise<string> {
  const existing = new Set(readdirSync(dir));
  process.kill(pid, "SIGUSR2");
  let last = -1;
  while (Date.now() < deadline) {
    await sleep(500);
    const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !existing.has(f));
    if (!file) continue;
    // Written in one go while the instance is paused: done once its size holds still.
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) return join(dir, file);
    last = size;
  }
  throw new Error(`no heap snapshot from ${pid} in ${dir} before the deadline`);
}

export async function holdStreams(
  platform: Platform,
  options: { streams: number; openPerSecond: number; deadline: number; heapDir?: string },
): Promise<Concurrency> {
  // A token every 5 s, for longer than this measure may last: no stream ends by itself.
  const gapMs = 5_000;
  platform.setReply(Math.ceil((options.deadline - Date.now()) / gapMs) + 12, gapMs);
  const agents = keepAliveAgents();
  const apiRss = () => platform.pids.apis.reduce((sum, pid) => sum + rssBytes(pid), 0);
  // A heap snapshot pauses the instance for a while; it has its own bound.
  const snapshot = () => heapSnapshot(platform.pids.apis[0]!, options.heapDir!, Date.now() + 180_000);
  try {
    // Conversations first (not part of what is held), then the baseline memory.
    const conversations: string[] = [];
    for (let i = 0; i < options.streams && Date.now() < options.deadline; i++)
      conversations.push(await newConversation(platform, agents));
    await sleep(1000);
    const heapBefore = options.heapDir ? await snapshot() : undefined;
    const before = apiRss();
    // Each stream's state: "opening", "open" (it has its first token), or settled.
    const states: Array<"opening" | "open" | "settled"> = [];
    const outcomes: Array<Promise<StreamOutcome>> = [];
    const controllers: AbortController[] = [];
    const started = Date.now();
    for (const [i, conversation] of conversations.entries()) {
      if (Date.now() > options.deadline) break;
      const controller = new AbortController();
      controllers.push(controller);
      states[i] = "opening";
      const outcome = openStream(chatTarget(platform, conversation), {
        agents,
        timeoutMs: Math.max(1000, options.deadline + 60_000 - Date.now()),
        onFirstToken: () => void (states[i] = "open"),
        signal: controller.signal,
      });
      void outcome.then(() => void (states[i] = "settled"));
      outcomes.push(outcome);
      // A bounded opening pace: a burst of new TLS connections is another benchmark.
      const due = started + ((i + 1) * 1000) / options.openPerSecond;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    const openSeconds = (Date.now() - started) / 1000;
    // Until no stream is still waiting for its first token.
    while (states.includes("opening") && Date.now() < options.deadline) await sleep(250);
    await sleep(2000);
    // One instant: the streams open end to end now.
    const heldNow = states.filter((state) => state === "open").length;
    const stillOpening = states.filter((state) => state === "opening").length;
    const rssHeld = apiRss();
    const heapHeld = options.heapDir ? await snapshot() : undefined;
    for (const controller of controllers) controller.abort();
    const finished = await Promise.all(outcomes);
    // Anything that ended on its own before the count is a failure: no stream was meant to end.
    const failures = finished.filter((o) => o.error !== "aborted");
    return {
      attempted: outcomes.length,
      held: heldNow,
      errors: failures.length + stillOpening,
      rssPerStreamKb: round((rssHeld - before) / 1024 / Math.max(1, heldNow), 1),
      apiRssBeforeMb: round(before / 1024 / 1024, 1),
      apiRssHeldMb: round(rssHeld / 1024 / 1024, 1),
      openSeconds: round(openSeconds, 1),
      firstErrors: [
        ...new Set([
          ...failures.map((o) => o.error ?? `ended before it was counted (last event: ${o.lastEvent ?? "none"})`),
          ...(stillOpening > 0 ? [`${stillOpening} without a first token when counted`] : []),
        ]),
      ].slice(0, 6),
      ...(heapBefore && heapHeld ? { heapSnapshots: { before: heapBefore, held: heapHeld } } : {}),
    };
  } finally {
    agents.destroy();
  }
}
