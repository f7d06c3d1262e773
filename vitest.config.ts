import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration files each start real servers; two at a time fits 2 cores.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
