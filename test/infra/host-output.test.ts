// What a host prints reaches the operator's terminal only as terminal-safe
// text: a step's output (and its failure) and an ops command's output (streamed
// or not) and failure. Run through the local transport, with a host script
// that prints escape sequences (a retitled window, a cleared screen, a C1 CSI).
import { afterEach, describe, expect, it, vi } from "vitest";
import { HostCommandError, runOnHost, runStep } from "../../infra/host/runner/run.js";
import { LocalTransport } from "../../infra/host/runner/local.js";

const HOSTILE = String.raw`printf 'ok \033]0;owned\007\033[2J\302\2331m\r\n'`;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const SHOWN = "ok \\u001b]0;owned\\u0007\\u001b[2J\\u009b1m\n";

const step = (script: string) => ({ name: "verify" as const, command: "bash -s", script });

describe("a host step's output", () => {
  it("is returned terminal-safe", async () => {
    expect(await runStep(new LocalTransport(), step(HOSTILE))).toBe(SHOWN);
  });

  it("is terminal-safe in the failure that carries it", async () => {
    const failure = await runStep(new LocalTransport(), step(`${HOSTILE}; exit 3`)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(HostCommandError);
    expect((failure as HostCommandError).message).toContain(SHOWN.trim());
    expect((failure as HostCommandError).message).not.toMatch(CONTROL);
  });
});

describe("an ops command's output", () => {
  const transport = new LocalTransport("a test host");
  const command = (script: string) => ({ command: "bash -s", script });
  afterEach(() => vi.restoreAllMocks());

  it("is terminal-safe when read, streamed and in a failure", async () => {
    expect(await runOnHost(transport, "status", command(HOSTILE))).toBe(SHOWN);
    const written: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (written.push(String(chunk)), true));
    await runOnHost(transport, "logs", command(HOSTILE), { stream: true });
    vi.restoreAllMocks();
    expect(written.join("")).toBe(SHOWN);
    const failure = (await runOnHost(transport, "status", command(`${HOSTILE} >&2; exit 1`)).catch(
      (e: unknown) => e,
    )) as Error;
    expect(failure.message).toContain("status failed on a test host (exit code 1)");
    expect(failure.message).toContain(SHOWN.trim());
    expect(failure.message).not.toMatch(CONTROL);
  });
});
