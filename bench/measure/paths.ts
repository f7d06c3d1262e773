// The three paths every streaming measure compares: straight to the fake
// provider (the limit), through Caddy alone (the proxy's cost), and the full
// stack (Caddy, the API, JetStream).
import { chatTarget, newConversation, providerTarget, type Platform } from "../platform.js";
import { openStream, type keepAliveAgents, type StreamOutcome } from "../sse-load.js";

export type PathName = "direct" | "proxy" | "full";
export const PATHS: PathName[] = ["direct", "proxy", "full"];

/** One answer on `path`; on the full path, in `conversation` (or a new one, made before the clock starts). */
export async function answerOn(
  platform: Platform,
  path: PathName,
  agents: ReturnType<typeof keepAliveAgents>,
  conversation?: string,
): Promise<StreamOutcome> {
  const target =
    path === "full"
      ? chatTarget(platform, conversation ?? (await newConversation(platform, agents)))
      : providerTarget(platform, path);
  return openStream(target, { agents, timeoutMs: 120_000 });
}

/** Conversations made ahead, so a timed loop on the full path does not make them. */
export async function conversationsAhead(
  platform: Platform,
  path: PathName,
  count: number,
  agents: ReturnType<typeof keepAliveAgents>,
): Promise<Array<string | undefined>> {
  if (path !== "full") return Array.from({ length: count }, () => undefined);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await newConversation(platform, agents));
  return ids;
}

/** The processes doing a path's work (the fake and the load generator share this process, on every path). */
export function workersOf(platform: Platform, path: PathName): number[] {
  if (path === "direct") return [];
  if (path === "proxy") return [platform.pids.proxyOnlyCaddy];
  return [platform.pids.caddy, ...platform.pids.apis, ...platform.pids.nats];
}
