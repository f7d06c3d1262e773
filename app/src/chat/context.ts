// What of a conversation goes to the model: the latest turns within a count
// and an estimated token budget, without empty answers, with same-role
// neighbours merged and starting with the user, as both providers require.
import type { ChatTurn } from "../providers/types.js";

export interface ContextLimits {
  maxMessages: number;
  /** Estimated at 4 characters a token, the providers' rule of thumb for English. */
  maxTokens: number;
}

export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function modelContext(
  messages: ReadonlyArray<Pick<ChatTurn, "role" | "content">>,
  limits: ContextLimits,
): ChatTurn[] {
  const turns: ChatTurn[] = [];
  for (const m of messages) {
    if (m.content.trim() === "") continue;
    const last = turns.at(-1);
    if (last && last.role === m.role) last.content += `\n\n${m.content}`;
    else turns.push({ role: m.role, content: m.content });
  }
  const budget = limits.maxTokens;
  let used = 0;
  let start = turns.length;
  // Newest first; the newest turn always goes, even alone over the budget
  // (a single message is bounded by MAX_MESSAGE_CHARS).
  while (start > 0 && turns.length - start < limits.maxMessages) {
    const cost = estimateTokens(turns[start - 1]!.content);
    if (start < turns.length && used + cost > budget) break;
    used += cost;
    start--;
  }
  const recent = turns.slice(start);
  while (recent[0] && recent[0].role !== "user") recent.shift();
  return recent;
}
