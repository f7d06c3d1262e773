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

  /**
   * Waits up to `graceMs` for running answers, then stops the rest. An answer
   * may start after the drain began (its request passed the door while the
   * instance was only leaving, then waited on the store): it is waited for
   * like the others, not stopped the moment the earlier ones end.
   */
  async drain(graceMs: number): Promise<{ finished: number; stopped: number }> {
    const seen = new Set<Generation>();
    const timeout = new AbortController();
    const graceOver = sleep(graceMs, true, { signal: timeout.signal }).catch(() => true);
    while (this.running.size > 0) {
      const now = [...this.running];
      for (const g of now) seen.add(g);
      const allEnded = Promise.all(now.map((g) => g.finished)).then(() => false);
      if (await Promise.race([allEnded, graceOver])) break;
    }
    timeout.abort();
    const left = [...this.running];
    for (const g of left) {
      seen.add(g);
      g.cancel("shutdown");
    }
    await Promise.all(left.map((g) => g.finished));
    return { finished: seen.size - left.length, stopped: left.length };
  }
}
