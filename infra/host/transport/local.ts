// This machine as the host: `npm run local` and the tests run the same steps
// a deploy runs over SSH. Asynchronous, so streams keep flowing during a
// local deploy. The steps' `sudo` is dropped when this process is root
// already (the local stack runs as root; sudo may not even be installed).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { ExecResult, OutputListener, Transport } from "./transport.js";

export class LocalTransport implements Transport {
  readonly description = "this machine";

  async exec(command: string, stdin?: string, listener?: OutputListener): Promise<ExecResult> {
    const line = process.getuid?.() === 0 ? command.replace(/^sudo /, "") : command;
    const child = spawn("bash", ["-c", line], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      listener?.stdout?.(chunk);
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      listener?.stderr?.(chunk);
    });
    child.stdin.end(stdin ?? "");
    const [code] = (await once(child, "close")) as [number | null];
    return { code, stdout, stderr };
  }

  async upload(localPath: string, remotePath: string): Promise<void> {
    await mkdir(dirname(remotePath), { recursive: true });
    await copyFile(localPath, remotePath);
  }

  async endSession(): Promise<void> {
    // Each command is a new process: there is no session to end.
  }
}
