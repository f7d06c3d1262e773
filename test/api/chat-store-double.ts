// A double of the chat store: an in-memory object implementing ChatRulesStore,
// the part of ChatStore the chat rules (chat/start-answer.ts,
// follow-answer.ts, read-conversation.ts) and a Generation call. It is a
// double, not the store, on purpose: the states and failures the rules branch
// on (every answer slot leased, a store that fails after the lease was taken,
// a conversation never sent to, an answer whose lease lapsed) are set up here
// in a line and their effects read back exactly, in milliseconds. The same
// rules run against the real store (NATS JetStream) through the bundle in the
// other tests of test/api (chat-flow, resume, resume-ends, chat-store, ...).
import type { BudgetCounters, ChatRulesStore, QuotaCounters } from "../../app/src/chat/chat-deps.js";
import type { QuotaResult } from "../../app/src/chat/storage-quota.js";
import type { ChatTurn } from "../../app/src/providers/types.js";
import type { AnswerLease } from "../../app/src/store/answer-slots.js";
import type {
  AnswerRecord,
  ConversationRecord,
  LogRecord,
  StreamEvent,
  UserMessageRecord,
} from "../../app/src/store/records.js";
import { keys } from "../../app/src/store/subjects.js";

type Follower = { replyId: string; conversationId: string; deliver: (record: LogRecord) => void };

export class ChatStoreDouble implements ChatRulesStore {
  private readonly records = new Map<string, { record: ConversationRecord; revision: number }>();
  private readonly logs = new Map<string, LogRecord[]>();
  private readonly contextTurns = new Map<string, { turns: ChatTurn[]; revision: number }>();
  /** Leases by slot key: which answer holds it, at which revision. */
  readonly leases = new Map<string, { replyId: string; revision: number }>();
  private readonly followers = new Set<Follower>();
  private revision = 0;
  /** The writes and reads a rule made that it may skip, in order. */
  readonly calls: string[] = [];
  /** Calls that fail once with the given error. */
  readonly failNext = new Map<string, Error>();

  // --- Test set-up and reads ------------------------------------------------

  seedConversation(owner: string, record: ConversationRecord, log: LogRecord[] = []): void {
    this.records.set(keys.conversation(owner, record.id), { record, revision: ++this.revision });
    this.logs.set(record.id, [...log]);
  }

  /** Leases one of the owner's slots to an answer, as another request would. */
  seedLease(owner: string, slot: number, replyId: string): void {
    this.leases.set(keys.answerSlot(owner, slot), { replyId, revision: ++this.revision });
  }

  logOf(conversationId: string): LogRecord[] {
    return this.logs.get(conversationId) ?? [];
  }

  recordOf(owner: string, id: string): ConversationRecord | undefined {
    return this.records.get(keys.conversation(owner, id))?.record;
  }

  contextOf(conversationId: string): ChatTurn[] | undefined {
    return this.contextTurns.get(conversationId)?.turns;
  }

  private async call(name: string): Promise<void> {
    this.calls.push(name);
    const err = this.failNext.get(name);
    if (err) {
      this.failNext.delete(name);
      throw err;
    }
  }

  private append(conversationId: string, record: LogRecord): void {
    this.logs.get(conversationId)?.push(record);
    for (const f of this.followers) {
      if (f.conversationId === conversationId && record.kind !== "user" && record.replyId === f.replyId)
        f.deliver(record);
    }
  }

  // --- Conversations --------------------------------------------------------

  async createConversation(owner: string, record: ConversationRecord): Promise<void> {
    await this.call("createConversation");
    this.seedConversation(owner, record);
  }

  async findConversation(owner: string, id: string) {
    const found = this.records.get(keys.conversation(owner, id));
    return found ? { ...found } : null;
  }

  async getConversation(owner: string, id: string) {
    return (await this.findConversation(owner, id))?.record ?? null;
  }

  async touchConversation(owner: string, record: ConversationRecord, revision: number, at: string): Promise<void> {
    await this.call("touchConversation");
    const key = keys.conversation(owner, record.id);
    if (this.records.get(key)?.revision !== revision) return;
    this.records.set(key, { record: { ...record, updatedAt: at }, revision: ++this.revision });
  }

  async listConversations(owner: string): Promise<ConversationRecord[]> {
    const prefix = `${keys.conversationsOf(owner).slice(0, -1)}`;
    return [...this.records].filter(([key]) => key.startsWith(prefix)).map(([, v]) => v.record);
  }

  async conversationEntry(owner: string, id: string) {
    return this.findConversation(owner, id);
  }

  async removeConversation(owner: string, id: string, revision: number): Promise<boolean> {
    const key = keys.conversation(owner, id);
    if (this.records.get(key)?.revision !== revision) return false;
    this.records.delete(key);
    return true;
  }

  async finishRemoval(_owner: string, id: string): Promise<void> {
    await this.purgeConversationData(id);
  }

  async purgeConversationData(id: string): Promise<void> {
    this.logs.delete(id);
    this.contextTurns.delete(id);
  }

  // --- The log ----------------------------------------------------------------

  async appendUserMessage(conversationId: string, record: UserMessageRecord): Promise<void> {
    await this.call("appendUserMessage");
    this.append(conversationId, record);
  }

  async appendEvents(conversationId: string, replyId: string, events: StreamEvent[]): Promise<void> {
    this.append(conversationId, { kind: "events", replyId, events });
  }

  async finishAnswer(conversationId: string, answer: AnswerRecord): Promise<boolean> {
    const log = this.logs.get(conversationId);
    if (!log || log.some((r) => r.kind === "answer" && r.replyId === answer.replyId)) return false;
    // The event batches go once the answer is one record, as in the store.
    this.logs.set(
      conversationId,
      log.filter((r) => r.kind === "user" || r.replyId !== answer.replyId),
    );
    this.append(conversationId, answer);
    return true;
  }

  async finishAnswerIfKept(owner: string, conversationId: string, answer: AnswerRecord): Promise<boolean> {
    await this.call("finishAnswerIfKept");
    if (!(await this.getConversation(owner, conversationId))) return false;
    return this.finishAnswer(conversationId, answer);
  }

  async getAnswer(conversationId: string, replyId: string): Promise<AnswerRecord | null> {
    const found = this.logOf(conversationId).find((r) => r.kind === "answer" && r.replyId === replyId);
    return (found as AnswerRecord | undefined) ?? null;
  }

  async replyExists(conversationId: string, replyId: string): Promise<boolean> {
    return this.logOf(conversationId).some((r) => r.kind === "user" && r.replyId === replyId);
  }

  async followReply(conversationId: string, replyId: string, onRecord: (record: LogRecord) => boolean) {
    let stop!: () => void;
    const done = new Promise<void>((resolve) => {
      const follower: Follower = {
        conversationId,
        replyId,
        deliver: (record) => {
          if (!onRecord(record)) stop();
        },
      };
      stop = () => {
        this.followers.delete(follower);
        resolve();
      };
      this.followers.add(follower);
    });
    for (const record of this.logOf(conversationId)) {
      if (record.kind !== "user" && record.replyId === replyId && !onRecord(record)) stop();
    }
    return { done, stop };
  }

  // --- Leases, contexts, pages, sizes ---------------------------------------

  readonly slots = {
    acquire: async (owner: string, replyId: string, _instanceId: string, slots: number) => {
      for (let i = 0; i < slots; i++) {
        const key = keys.answerSlot(owner, i);
        if (this.leases.has(key)) continue;
        const revision = ++this.revision;
        this.leases.set(key, { replyId, revision });
        return { key, revision };
      }
      return null;
    },
    renew: async (lease: AnswerLease, replyId: string) => {
      const held = this.leases.get(lease.key);
      if (held && held.revision !== lease.revision) return false;
      lease.revision = ++this.revision;
      this.leases.set(lease.key, { replyId, revision: lease.revision });
      return true;
    },
    release: async (lease: AnswerLease) => {
      this.calls.push("release");
      if (this.leases.get(lease.key)?.revision === lease.revision) this.leases.delete(lease.key);
    },
    leaseHeld: async (owner: string, replyId: string, slots: number) =>
      Array.from({ length: slots }, (_, i) => this.leases.get(keys.answerSlot(owner, i))).some(
        (held) => held?.replyId === replyId,
      ),
  };

  readonly contexts = {
    get: async (conversationId: string) => this.contextTurns.get(conversationId) ?? null,
    put: async (conversationId: string, turns: ChatTurn[], revision: number) => {
      if ((this.contextTurns.get(conversationId)?.revision ?? 0) !== revision) return false;
      this.contextTurns.set(conversationId, { turns, revision: ++this.revision });
      return true;
    },
    forget: async (conversationId: string) => {
      this.contextTurns.delete(conversationId);
    },
  };

  readonly pages = {
    read: async (conversationId: string) => ({ log: [...this.logOf(conversationId)], next: null }),
    recentTurns: async (conversationId: string) => {
      this.calls.push("recentTurns");
      return [...this.logOf(conversationId)];
    },
  };

  readonly sizes = {
    recordSubject: (owner: string, id: string) => `$KV.conversations.${keys.conversation(owner, id)}`,
  };
}

/** Token budgets switched off (TOKEN limits 0), as a store double needs no counters for them. */
export const noBudgets: BudgetCounters = {
  enabled: false,
  limits: { input: 0, output: 0, windowMs: 60_000 },
  reserve: () => Promise.reject(new Error("the token budget is off")),
  settle: () => Promise.resolve(),
};

/** A storage quota counted in memory: each user's bytes against `limit`. */
export class QuotaDouble implements QuotaCounters {
  readonly used = new Map<string, number>();
  constructor(readonly limit: number) {}
  get enabled(): boolean {
    return this.limit > 0;
  }
  async charge(owner: string, bytes: number): Promise<QuotaResult> {
    const used = (this.used.get(owner) ?? 0) + bytes;
    if (used > this.limit) return { allowed: false, used: used - bytes, recountedAt: 0 };
    this.used.set(owner, used);
    return { allowed: true, used, recountedAt: 0 };
  }
  async add(owner: string, bytes: number): Promise<void> {
    this.used.set(owner, (this.used.get(owner) ?? 0) + bytes);
  }
  async recountIfDue(): Promise<void> {}
  async conversationBytes(): Promise<number> {
    return 0;
  }
}
