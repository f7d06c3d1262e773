// How a host step reaches the machine it configures. The Pulumi provider,
// `npm run local` and the tests run the same steps through one of these.
import type { Duplex } from "node:stream";

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Receives output as it comes (a log being followed), besides the result at the end. */
export interface OutputListener {
  stdout?(chunk: string): void;
  stderr?(chunk: string): void;
}

/** A command whose standard input stays open until `end()`: closing it is the command's signal to finish. */
export interface HeldCommand {
  /** Sends `finalInput`, if any, and closes the command's standard input. */
  end(finalInput?: string): void;
  readonly result: Promise<ExecResult>;
}

export interface Transport {
  /** Where the commands run, for messages: "deploy@203.0.113.10:22", "this machine". */
  readonly description: string;
  /** Runs `command` with `stdin` on its standard input. */
  exec(command: string, stdin?: string, listener?: OutputListener): Promise<ExecResult>;
  /**
   * Runs `command` with `stdin` on its standard input and keeps it open until
   * `end()`; if this process dies first, the host sees it closed all the same.
   */
  hold(command: string, stdin: string, listener?: OutputListener): Promise<HeldCommand>;
  /** A TCP connection to 127.0.0.1:`port` on the host (an SSH tunnel when remote). */
  connect(port: number): Promise<Duplex>;
  /** Copies a local file to `remotePath`. */
  upload(localPath: string, remotePath: string): Promise<void>;
  /** Ends the login session, so the next command starts a new one (with new groups, say). */
  endSession(): Promise<void>;
}
