// A reading taken at most once per interval, however often it is asked
// for: callers within the interval share the last one, and callers while a
// reading is under way share that one. /health uses it so that a flood of
// anonymous requests costs JetStream one request a second, not one each.
export class CachedReading<T> {
  private latest: { at: number; value: T } | undefined;
  private pending: Promise<T> | undefined;

  constructor(
    /** Must not throw: a failure is a reading too, cached like the others. */
    private readonly read: () => Promise<T>,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<T> {
    if (this.latest && this.now() - this.latest.at < this.intervalMs) return Promise.resolve(this.latest.value);
    this.pending ??= this.read()
      .then((value) => {
        this.latest = { at: this.now(), value };
        return value;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}
