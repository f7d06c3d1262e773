// How costs grow with what a conversation holds: the time to first token of
// a new message in conversations of growing length, and the time to read a
// conversation of long answers against one of short answers.
import { apiJson, newConversation, type Platform } from "../platform.js";
import { keepAliveAgents } from "../sse-load.js";
import { percentile, round } from "../stats.js";
import { answerOn } from "./paths.js";

export interface Growth {
  /** Conversation length (messages) -> median time to first token of one more, ms. */
  ttftBySize: Record<string, number>;
  historyGrowthRatio: number;
  readLongMs: number;
  readShortMs: number;
  answerLengthRatio: number;
}

async function fill(
  platform: Platform,
  agents: ReturnType<typeof keepAliveAgents>,
  id: string,
  messages: number,
  deadline: number,
) {
  for (let i = 0; i < messages && Date.now() < deadline; i++) {
    const outcome = await answerOn(platform, "full", agents, id);
    if (outcome.error) throw new Error(`filling a conversation: ${outcome.error}`);
  }
}

export async function growth(
  platform: Platform,
  options: { sizes: number[]; samples: number; reads: number; deadline: number },
): Promise<Growth> {
  const agents = keepAliveAgents();
  try {
    platform.setReply(4, 0);
    const ttftBySize: Record<string, number> = {};
    for (const size of options.sizes) {
      const id = await newConversation(platform, agents);
      await fill(platform, agents, id, size, options.deadline);
      const samples: number[] = [];
      for (let i = 0; i < options.samples; i++) {
        const outcome = await answerOn(platform, "full", agents, id);
        if (outcome.ttftMs !== null) samples.push(outcome.ttftMs);
      }
      ttftBySize[String(size)] = round(percentile(samples, 50));
    }
    const smallest = ttftBySize[String(Math.min(...options.sizes))]!;
    const largest = ttftBySize[String(Math.max(...options.sizes))]!;

    const readTime = async (tokens: number) => {
      platform.setReply(tokens, 0);
      const id = await newConversation(platform, agents);
      await fill(platform, agents, id, 15, options.deadline);
      const times: number[] = [];
      for (let i = 0; i < options.reads; i++)
        times.push((await apiJson(platform, agents, "GET", `/v1/conversations/${id}`)).ms);
      return percentile(times, 50);
    };
    const readLongMs = await readTime(200);
    const readShortMs = await readTime(4);
    return {
      ttftBySize,
      historyGrowthRatio: round(largest / smallest),
      readLongMs: round(readLongMs),
      readShortMs: round(readShortMs),
      answerLengthRatio: round(readLongMs / readShortMs),
    };
  } finally {
    agents.destroy();
  }
}
