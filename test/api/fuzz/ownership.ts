// Who owns what, as the fuzzer saw the API answer: a conversation belongs to
// the user whose request got its 201, a message to the conversation whose
// owner got its 200, and a 204 to a DELETE removes it. Every answer is
// checked against this record while the fuzzer runs, and the store itself
// (read from NATS, not through the API) against it afterwards: anything
// else in the store was written by a request that was refused, or by one
// user into another's conversation.
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ownerKey } from "../../../app/src/store/subjects.js";
import type { User } from "./request-types.js";
import type { Lookup, WireRequest } from "./to-wire.js";
import type { WireResponse } from "./wire.js";

interface Conversation {
  owner: User;
  title: string | null;
  deleted: boolean;
  /** Each message its owner sent with a 200, by the answer id it started. */
  messages: Map<string, string>;
}

export class OwnershipRecord {
  private readonly conversations = new Map<string, Conversation>();
  private readonly deletedIds: string[] = [];

  /** The JWT `sub` of each user. */
  constructor(readonly subjects: Record<User, string>) {}

  lookup(): Omit<Lookup, "token"> {
    return {
      conversationsOf: (user) => [...this.live()].filter(([, c]) => c.owner === user).map(([id]) => id),
      repliesOf: (user) =>
        [...this.live()]
          .filter(([, c]) => c.owner === user)
          .flatMap(([conversationId, c]) => [...c.messages.keys()].map((replyId) => ({ conversationId, replyId }))),
      repliesIn: (id) => [...(this.conversations.get(id)?.messages.keys() ?? [])],
      deleted: () => this.deletedIds,
    };
  }

  private *live(): Iterable<[string, Conversation]> {
    for (const entry of this.conversations) if (!entry[1].deleted) yield entry;
  }

  get size(): { conversations: number; messages: number; deleted: number } {
    const live = [...this.live()];
    return {
      conversations: live.length,
      messages: live.reduce((n, [, c]) => n + c.messages.size, 0),
      deleted: this.deletedIds.length,
    };
  }

  /**
   * Takes in what a batch of answers created, checks every answer against
   * who owns what, then takes in what they deleted (a read racing its own
   * owner's delete may see the conversation or not). Returns the problems.
   */
  observe(exchanges: ReadonlyArray<{ wire: WireRequest; res: WireResponse }>): string[] {
    for (const { wire, res } of exchanges) this.learnCreated(wire, res);
    const problems = exchanges.flatMap(({ wire, res }) => this.check(wire, res).map((p) => `${describe(wire)}: ${p}`));
    for (const { wire, res } of exchanges) {
      if (
        wire.site &&
        wire.method === "DELETE" &&
        res.status === 204 &&
        wire.route === "conversation" &&
        wire.conversationId
      ) {
        const conversation = this.conversations.get(wire.conversationId);
        if (conversation && !conversation.deleted) {
          conversation.deleted = true;
          this.deletedIds.push(wire.conversationId);
        }
      }
    }
    return problems;
  }

  private learnCreated(wire: WireRequest, res: WireResponse): void {
    const json = parse(res.body);
    if (!wire.site) return;
    if (wire.method === "POST" && res.status === 201 && wire.as && isRecord(json) && typeof json.id === "string") {
      this.conversations.set(json.id, {
        owner: wire.as,
        title: (json.title as string | null) ?? null,
        deleted: false,
        messages: new Map(),
      });
    }
    const replyId = res.headers["x-message-id"];
    if (
      wire.method === "POST" &&
      res.status === 200 &&
      wire.route === "messages" &&
      wire.conversationId &&
      typeof replyId === "string"
    ) {
      const sent = parse(wire.body);
      const conversation = this.conversations.get(wire.conversationId);
      if (conversation && isRecord(sent) && typeof sent.content === "string") {
        conversation.messages.set(replyId, sent.content);
      }
    }
  }

  private check(wire: WireRequest, res: WireResponse): string[] {
    if (res.status < 200 || res.status > 299 || !wire.site || !wire.path.startsWith("/v1/")) return [];
    if (!wire.as) return [`a ${res.status} for a request whose token the API must refuse`];
    const problems: string[] = [];
    const json = parse(res.body);
    if (wire.conversationId) {
      const conversation = this.conversations.get(wire.conversationId);
      if (!conversation) problems.push(`a ${res.status} for conversation ${wire.conversationId}, which nobody created`);
      else if (conversation.owner !== wire.as) {
        problems.push(`a ${res.status} to ${wire.as} for ${conversation.owner}'s conversation ${wire.conversationId}`);
      } else if (wire.replyId && !conversation.messages.has(wire.replyId)) {
        problems.push(
          `a ${res.status} for answer ${wire.replyId}, which is not in conversation ${wire.conversationId}`,
        );
      } else if (wire.method === "GET" && wire.route === "conversation" && res.status === 200) {
        problems.push(...this.checkConversation(wire.conversationId, conversation, json));
      }
    } else if (wire.method === "GET" && wire.route === "conversations" && res.status === 200) {
      const listed = isRecord(json) && Array.isArray(json.conversations) ? json.conversations : [];
      for (const item of listed as Array<{ id?: string }>) {
        const owner = this.conversations.get(String(item.id))?.owner;
        if (owner !== wire.as)
          problems.push(`${wire.as}'s list holds conversation ${item.id}, owned by ${owner ?? "nobody"}`);
      }
    }
    return problems;
  }

  private checkConversation(id: string, conversation: Conversation, json: unknown): string[] {
    if (!isRecord(json) || json.id !== id) return [`the conversation read is not ${id}: ${preview(json)}`];
    const problems: string[] = [];
    if (json.title !== conversation.title)
      problems.push(`title ${preview(json.title)}, not ${preview(conversation.title)}`);
    const sent = new Set(conversation.messages.values());
    const messages = Array.isArray(json.messages) ? (json.messages as Array<{ role?: string; content?: string }>) : [];
    for (const m of messages) {
      if (m.role === "user" && !sent.has(String(m.content))) {
        problems.push(`holds a user message its owner never sent: ${preview(m.content)}`);
      }
    }
    return problems;
  }

  /**
   * Reads the store from NATS and returns every difference from this
   * record: conversations under the wrong owner, unknown or not deleted,
   * messages nobody sent (or lost), logs and contexts of conversations
   * that are gone, and answers still in progress.
   */
  async checkStore(nc: NatsConnection): Promise<string[]> {
    const problems: string[] = [];
    const kvm = new Kvm(nc);
    const jsm = await jetstreamManager(nc);

    const records = await kvm.open("conversations");
    const stored = new Set<string>();
    for await (const key of await records.keys()) {
      const entry = await records.get(key);
      if (!entry || entry.operation !== "PUT") continue;
      const [prefix, id] = key.split(".") as [string, string];
      stored.add(id);
      const conversation = this.conversations.get(id);
      if (!conversation) {
        problems.push(`the store holds conversation ${id}, which no 201 created`);
        continue;
      }
      if (conversation.deleted) problems.push(`conversation ${id} is still stored after its 204`);
      if (prefix !== ownerKey(this.subjects[conversation.owner])) {
        problems.push(`conversation ${id} of ${conversation.owner} is stored under another owner (${prefix})`);
      }
      const record = entry.json<{ id: string; title: string | null }>();
      if (record.id !== id || record.title !== conversation.title) {
        problems.push(
          `conversation ${id} is stored as ${preview(record)}, created as title ${preview(conversation.title)}`,
        );
      }
    }
    for (const [id, c] of this.live()) {
      if (!stored.has(id))
        problems.push(`${c.owner}'s conversation ${id} is gone, though no DELETE of theirs got a 204`);
    }

    const info = await jsm.streams.info("CONVERSATIONS", { subjects_filter: ">" });
    const seen = new Map<string, Set<string>>();
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const [, id, kind, replyId] = subject.split(".") as [string, string, string, string];
      const conversation = this.conversations.get(id);
      if (!conversation || conversation.deleted) {
        problems.push(`the log holds ${subject}, of a conversation ${conversation ? "deleted" : "nobody created"}`);
        continue;
      }
      if (!conversation.messages.has(replyId)) {
        problems.push(`the log holds ${subject}, for a message ${conversation.owner} never got a 200 for`);
        continue;
      }
      if (kind === "live") problems.push(`${subject}: an answer's events are still stored after it ended`);
      if (kind !== "msg") continue;
      const message = await jsm.streams.getMessage("CONVERSATIONS", { last_by_subj: subject });
      const content = message?.json<{ content?: string }>().content;
      if (content !== conversation.messages.get(replyId)) {
        problems.push(`${subject} holds ${preview(content)}, sent as ${preview(conversation.messages.get(replyId))}`);
      }
      seen.set(id, (seen.get(id) ?? new Set()).add(replyId));
    }
    for (const [id, c] of this.live()) {
      for (const replyId of c.messages.keys()) {
        if (!seen.get(id)?.has(replyId)) problems.push(`${c.owner}'s message ${replyId} in ${id} is gone from the log`);
      }
    }

    const contexts = await kvm.open("conversation-contexts");
    for await (const id of await contexts.keys()) {
      const entry = await contexts.get(id);
      if (!entry || entry.operation !== "PUT") continue;
      const conversation = this.conversations.get(id);
      if (!conversation || conversation.deleted) {
        problems.push(
          `a context is stored for conversation ${id}, ${conversation ? "deleted" : "which nobody created"}`,
        );
        continue;
      }
      const sent = new Set(conversation.messages.values());
      const turns = entry.json<{ turns: Array<{ role: string; content: string }> }>().turns;
      for (const turn of turns) {
        if (turn.role === "user" && !sent.has(turn.content)) {
          problems.push(
            `the context of ${id} holds a user turn ${conversation.owner} never sent: ${preview(turn.content)}`,
          );
        }
      }
    }
    return problems;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parse(bytes: Buffer | undefined): unknown {
  try {
    return bytes && bytes.length > 0 ? JSON.parse(bytes.toString("utf8")) : undefined;
  } catch {
    return undefined;
  }
}

export function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 120)}… (${text.length} characters)` : text;
}

export function describe(wire: WireRequest): string {
  const path = wire.path.length > 100 ? `${wire.path.slice(0, 100)}… (${wire.path.length} characters)` : wire.path;
  return `${wire.method} ${path}${wire.as ? ` as ${wire.as}` : ""}`;
}
