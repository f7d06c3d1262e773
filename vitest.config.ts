import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // What vitest waits for a worker to end before it calls that a timeout:
    // the system project's worker stops the deployed test host then (a
    // Docker host takes up to 30 s to shut down; vitest kills at 60 s).
    teardownTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: "fast",
          // Unit and mock tests, and tests against real servers on loopback
          // ports; two files at a time fits two cores.
          include: ["test/{unit,api,infra,templates,ops}/**/*.test.ts"],
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: "system",
          // A Docker engine, a systemd test host, real monitoring servers
          // (monitoring/): heavy, one at a time,
          // after the fast ones so they do not starve their timing.
          include: ["test/{stack,host,bench,monitoring}/**/*.test.ts"],
          fileParallelism: false,
          // One worker runs every file, keeping modules between them: the
          // deployed test host (test/harness/deployed-host.ts) is built by
          // the first file that needs it and reused by the next, and this
          // environment stops it when the worker ends.
          isolate: false,
          environment: "./test/harness/worker-end-environment.ts",
        },
      },
    ],
  },
});
