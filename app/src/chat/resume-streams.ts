// The resume streams open on this instance: shutdown stops them all (their
// clients resume on another instance), and a conversation deleted on any
// instance ends its own at once, rather than leave them waiting for records
// that will never come.
export interface OpenResume {
  conversationId: string;
  /** Ends the stream without an event: the client resumes elsewhere. */
  stop(): void;
  /** Ends the stream with `conversation_deleted`. */
  deleted(): void;
}

export class ResumeStreams {
  private readonly open = new Set<OpenResume>();

  /** Returns the function that forgets it again. */
  add(resume: OpenResume): () => void {
    this.open.add(resume);
    return () => this.open.delete(resume);
  }

  get size(): number {
    return this.open.size;
  }

  conversationDeleted(conversationId: string): void {
    for (const resume of [...this.open]) if (resume.conversationId === conversationId) resume.deleted();
  }

  stopAll(): void {
    for (const resume of [...this.open]) resume.stop();
  }
}
