// Work to do once, when the vitest worker that ran the system project's files
// ends: the shared deployed host outlives each file (vitest.config.ts runs
// those files in one worker, without isolation) and is stopped here. The
// list lives on globalThis because the environment that runs it
// (worker-end-environment.ts) is loaded apart from the test files' modules.
const HOOKS = Symbol.for("conversational-platform.worker-end");

type Hook = () => Promise<void>;

function hooks(): Hook[] {
  const global = globalThis as { [HOOKS]?: Hook[] };
  return (global[HOOKS] ??= []);
}

/** Runs `hook` when the worker ends, after hooks registered later (the reverse of setup). */
export function atWorkerEnd(hook: Hook): void {
  hooks().push(hook);
}

/** Runs every hook, newest first, each even if one before failed. */
export async function runWorkerEndHooks(): Promise<void> {
  const errors: unknown[] = [];
  for (const hook of hooks().splice(0).reverse()) {
    try {
      await hook();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, "tearing down what the system test files shared");
}
