// The curl examples of docs/api.md, run as written against the bundle.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";

const API_DOC = join(import.meta.dirname, "../../docs/api.md");

function apiExamples(): string {
  const text = readFileSync(API_DOC, "utf8");
  const block = text.split("<!-- api-examples:start -->")[1]?.split("<!-- api-examples:end -->")[0];
  const script = block?.match(/```bash\n([\s\S]*?)```/)?.[1];
  if (!script) throw new Error("docs/api.md has no api-examples block");
  return script;
}

describe("docs/api.md curl examples", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { LLM_PROVIDER: "mock" } });
  });
  afterAll(() => stack?.stop());

  it("run as written and show a streamed answer, its resume, the history and the delete", async () => {
    const dir = scratchDir("api-examples");
    try {
      const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", apiExamples()], {
        cwd: dir.path,
        env: { PATH: process.env.PATH, API: stack.apis[0]!.url, TOKEN: await tokenFor("reader") },
      });
      expect(stdout).toContain('"status":"ok"');
      expect(stdout).toMatch(/id: 1\nevent: delta\ndata: \{"text":"\[mock /);
      expect(stdout).toMatch(/id: 3\nevent: delta/);
      expect(stdout.match(/event: done/g)).toHaveLength(2);
      expect(stdout).toContain('"title":"First steps"');
      expect(stdout).toContain('"content":"Hello! What can you do?"');
      expect(stdout.trim().endsWith("204")).toBe(true);
    } finally {
      dir.remove();
    }
  });
});
