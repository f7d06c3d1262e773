/* global process */
// Preloaded into an API process by tests that measure its memory
// (`node --expose-gc --require ./gc-on-signal.cjs dist/api.cjs`): SIGUSR2
// runs a full garbage collection, so the heap read from /metrics right
// after is what the process still holds, not garbage not yet collected.
process.on("SIGUSR2", () => globalThis.gc());
