// This machine as the host: `npm run local` and the tests run the same steps
// a deploy runs over SSH. Asynchronous, so streams keep flowing during a
// local deploy. The steps' `sudo` is dropped when this process is root
// already (the local stack runs as root; sudo may not even be installed).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { createConnection } from "node:net";
import type { Duplex } from "node:stream";
import type { ExecResult, HeldCommand, OutputListener, Transport } from "./transport.js";

export class LocalTransport implements Transport {
  /** @param description where the commands run, for messages ("the local stack in .tmp/local"). */
  constructor(readonly description = "this machine") {}

  async exec(command: string, stdin?: string, listener?: OutputListener): Promise<ExecResult> {
    const running = this.start(command, stdin ?? "", listener, false);
    running.end();
    return running.result;
  }

  /**
   * In a process group of its own: a Ctrl-C here must not kill the held
   * command, which finishes its work (say, starting the API again) when its
   * input closes, as this process dies.
   */
  async hold(command: string, stdin: string, listener?: OutputListener): Promise<HeldCommand> {
    return this.start(command, stdin, listener, true);
  }

  private start(command: string, stdin: string, listener: OutputListener | undefined, detached: boolean): HeldCommand {
    const line = process.getuid?.() === 0 ? command.replace(/^sudo /, "") : command;
    const child = spawn("bash", ["-c", line], { stdio: ["pipe", "pipe", "pipe"], detached });
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
    // A command that exits before reading all its input is not an error here.
    child.stdin.on("error", () => undefined);
    child.stdin.write(stdin);
    const result = once(child, "close").then(([code]) => ({ code: code as number | null, stdout, stderr }));
    return { end: (finalInput) => child.stdin.end(finalInput ?? ""), result };
  }

  async connect(port: number): Promise<Duplex> {
    const socket = createConnection({ host: "127.0.0.1", port });
    await once(socket, "connect");
    return socket;
  }

  async upload(localPath: string, remotePath: string): Promise<void> {
    await mkdir(dirname(remotePath), { recursive: true });
    await copyFile(localPath, remotePath);
  }

  async endSession(): Promise<void> {
    // Each command is a new process: there is no session to end.
  }
}
