// vitest's node environment, with one addition: when the worker ends it runs
// what the test files left to atWorkerEnd (worker-end.ts). Named by the
// system project in vitest.config.ts.
import { builtinEnvironments, type Environment } from "vitest/runtime";
import { runWorkerEndHooks } from "./worker-end.js";

const node = builtinEnvironments.node;

export default {
  name: "node-with-worker-end",
  viteEnvironment: "ssr",
  async setup(global, options) {
    const environment = await node.setup(global, options);
    return {
      async teardown(global) {
        try {
          await runWorkerEndHooks();
        } finally {
          await environment.teardown(global);
        }
      },
    };
  },
} satisfies Environment;
