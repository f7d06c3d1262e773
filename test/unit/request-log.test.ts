// Which requests get a log line, and at which level.
import { describe, expect, it } from "vitest";
import { requestLogLevel } from "../../app/src/observability/request-log.js";

describe("requestLogLevel", () => {
  it.each([
    ["/health", 200, undefined],
    ["/metrics", 200, undefined],
    ["/health", 503, "warn"],
    ["/health", 500, "error"],
    ["/metrics", 500, "error"],
    ["/v1/conversations", 200, "info"],
    ["/v1/conversations/:id", 204, "info"],
    ["/v1/conversations/:id/messages", 413, "info"],
    [undefined, 404, "info"],
    ["/v1/conversations", 503, "error"],
    ["/v1/conversations/:id/messages", 500, "error"],
  ] as const)("%s answered %i: %s", (route, status, level) => {
    expect(requestLogLevel(route, status)).toBe(level);
  });
});
