// The answers this instance is generating, so that shutdown can wait for
// them (and, past the grace period, stop them cleanly), and a conversation
// deleted on any instance stops its answers here.
import { setTimeout as sleep } from "node:timers/promises";
import { Generation, type GenerationContext, type GenerationInput } from "./generation.js";

export class GenerationRegistry {
  private readonly running = new Set<Generation>();

  constructor(private readonly ctx: GenerationContext) {}

  start(input: GenerationInput): Generation {
    const generation = new Generation(this.ctx, input);
    this.running.add(generation);
    void generation.finished.finally(() => this.running.delete(generation));
    return generation;
  }

  get size(): number {
    return this.running.size;
  }

  /** Stops every answer of a deleted conversation. */
  stopConversation(conversationId: string): void {
    for (const g of this.running) if (g.input.conversationId === conversationId) g.cancel("deleted");
  }

  /** Waits up to `graceMs` for running answers, then stops the rest. */
  async drain(graceMs: number): Promise<{ finished: number; stopped: number }> {
    const all = [...this.running];
    const timeout = new AbortController();
    const settled = Promise.all(all.map((g) => g.finished));
    await Promise.race([settled, sleep(graceMs, undefined, { signal: timeout.signal }).catch(() => undefined)]);
    timeout.abort();
    const left = [...this.running];
    for (const g of left) g.cancel("shutdown");
    await Promise.all(left.map((g) => g.finished));
    return { finished: all.length - left.length, stopped: left.length };
  }
}
