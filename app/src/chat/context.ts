// What of a conversation goes to the model: the latest turns within a count
// and an estimated token budget, without empty answers, with same-role
// neighbours merged and starting with the user, as both providers require.
// The budget holds for what is sent, merges included: an answer that stored
// no text leaves the context ending with the user, and the next message is
// merged into that turn, so counting only whole turns (or always keeping the
// newest) let one turn grow past any budget and, past the model's window,
// leave the conversation refused for good.
import type { ChatTurn } from "../providers/types.js";

export interface ContextLimits {
  maxMessages: number;
  /** Estimated at 4 characters a token, the providers' rule of thumb for English. */
  maxTokens: number;
}

/** What merging two same-role neighbours puts between them. */
const MERGE_SEPARATOR = "\n\n";

export function estimateTokens(text: string): number {
  return tokensOfLength(text.length);
}

function tokensOfLength(characters: number): number {
  return Math.ceil(characters / 4);
}

/** The estimated tokens of a context: what CONTEXT_MAX_TOKENS bounds. */
export function contextTokens(turns: ReadonlyArray<Pick<ChatTurn, "content">>): number {
  return turns.reduce((sum, turn) => sum + estimateTokens(turn.content), 0);
}

/**
 * The longest run of the latest messages (at most `maxMessages`) whose
 * merged turns fit in `maxTokens`, starting with the user. A newest message
 * alone over the budget gives an empty context: the route refuses such a
 * message before it gets here (see messages.ts).
 */
export function modelContext(
  messages: ReadonlyArray<Pick<ChatTurn, "role" | "content">>,
  limits: ContextLimits,
): ChatTurn[] {
  const kept = messages.filter((m) => m.content.trim() !== "");
  // Newest first, counting the merged turns as they will be sent: the
  // oldest turn so far may still grow by a merge; the others are settled.
  let start = kept.length;
  let settled = 0;
  let oldest: { role: ChatTurn["role"]; length: number } | undefined;
  while (start > 0 && kept.length - start < limits.maxMessages) {
    const next = kept[start - 1]!;
    const merges = oldest?.role === next.role;
    const length = merges ? oldest!.length + MERGE_SEPARATOR.length + next.content.length : next.content.length;
    const before = merges || !oldest ? settled : settled + tokensOfLength(oldest.length);
    if (before + tokensOfLength(length) > limits.maxTokens) break;
    settled = before;
    oldest = { role: next.role, length };
    start--;
  }
  const turns: ChatTurn[] = [];
  for (const m of kept.slice(start)) {
    const last = turns.at(-1);
    if (last && last.role === m.role) last.content += `${MERGE_SEPARATOR}${m.content}`;
    else turns.push({ role: m.role, content: m.content });
  }
  while (turns[0] && turns[0].role !== "user") turns.shift();
  return turns;
}
