// Following an answer (a resume): an ended answer's remaining events at once;
// one still in progress (or whose generator died) followed record by record
// from the log, whichever instance generates it. The follow is set up before
// anything is sent, so the route can still refuse cleanly if it fails. Once
// attached to a client's stream it ends with the answer, or here: when its
// conversation is deleted, or when the answer can never end (its generator
// dead and its end not storable; resume-watchdog.ts).
import type { Logger } from "pino";
import { answerEvents, type StreamEvent } from "../store/records.js";
import type { ChatDeps } from "./chat-deps.js";
import { ReplyCursor } from "./reply-cursor.js";
import { ResumeWatchdog, type UnstoredEnd } from "./resume-watchdog.js";

/** Where a followed answer's events go: the client's event stream. */
export interface AnswerSink {
  send(event: StreamEvent): void;
  end(): void;
}

export interface LiveAnswer {
  /** Sends what arrived so far and everything from now on to `sink`, ending it when the answer (or the follow) ends. */
  attach(sink: AnswerSink): void;
  /** Stops following (the client went away). */
  stop(): void;
}

export type FollowResult =
  | { kind: "no_such_conversation" }
  | { kind: "no_such_answer" }
  /** Ended: its events after `after` (none: nothing more to send). */
  | { kind: "ended"; events: StreamEvent[] }
  | { kind: "live"; answer: LiveAnswer };

export interface FollowRequest {
  owner: string;
  conversationId: string;
  replyId: string;
  /** The last event id the client has (0: none). */
  after: number;
  log: Pick<Logger, "warn" | "info">;
}

/** The shortest time between two checks of whether an answer can still end. */
const MIN_CHECK_MS = 250;

export async function followAnswer(deps: ChatDeps, request: FollowRequest): Promise<FollowResult> {
  const { store, config } = deps;
  const { owner, replyId, log } = request;
  const conversation = await store.getConversation(owner, request.conversationId);
  if (!conversation) return { kind: "no_such_conversation" };
  const conversationId = conversation.id;
  const [answer, exists] = await Promise.all([
    store.getAnswer(conversationId, replyId),
    store.replyExists(conversationId, replyId),
  ]);
  if (answer) return { kind: "ended", events: answerEvents(answer, request.after) };
  if (!exists) return { kind: "no_such_answer" };

  const cursor = new ReplyCursor(request.after);
  // Records that arrive before a sink is attached wait here.
  const early: StreamEvent[] = [];
  let send = (event: StreamEvent): void => {
    early.push(event);
  };
  let lastRecordAt = Date.now();
  const follower = await store.followReply(conversationId, replyId, (record) => {
    lastRecordAt = Date.now();
    for (const event of cursor.next(record)) send(event);
    return !cursor.ended;
  });
  const done = follower.done.catch((err: unknown) => log.warn({ err }, "resume stream failed"));

  const attach = (sink: AnswerSink) => {
    for (const event of early) sink.send(event);
    send = (event) => sink.send(event);
    const endHere = (code: UnstoredEnd) => {
      if (cursor.ended) return;
      sink.send(cursor.unstoredEnd(code));
      follower.stop();
    };
    const forget = deps.resumeStreams.add({
      conversationId,
      stop: follower.stop,
      deleted: () => endHere("conversation_deleted"),
    });
    // An answer whose generator died (instance killed) would never end: once
    // it has been quiet and its lease has lapsed, it is ended for everyone;
    // and what can never end (deleted, or its end cannot be stored) ends
    // this stream here. One check at a time.
    const watchdog = new ResumeWatchdog(
      {
        conversationExists: async () => (await store.getConversation(owner, conversationId)) !== null,
        generatorAlive: () => store.slots.leaseHeld(owner, replyId, config.maxActiveAnswersPerUser),
        storeInterruptedEnd: async () => {
          await store.finishAnswerIfKept(owner, conversationId, cursor.interrupted(replyId), { legacyEvents: true });
        },
        failed: (err) => log.warn({ err, replyId }, "resume watchdog failed"),
      },
      config.generationLeaseMs,
    );
    let checking = false;
    const timer = setInterval(
      () => {
        if (checking || cursor.ended) return;
        checking = true;
        void watchdog
          .check(lastRecordAt)
          .then((end) => {
            if (end) {
              log.info({ replyId, code: end }, "resume stream ended here: its answer cannot end");
              endHere(end);
            }
          })
          .finally(() => (checking = false));
      },
      Math.max(MIN_CHECK_MS, config.generationLeaseMs / 4),
    );
    void done.finally(() => {
      clearInterval(timer);
      forget();
      sink.end();
    });
  };
  return { kind: "live", answer: { attach, stop: follower.stop } };
}
