// How a host step reaches the machine it configures. The Pulumi provider,
// `npm run local` and the tests run the same steps through one of these.

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

export interface Transport {
  /** Where the commands run, for messages: "deploy@203.0.113.10:22", "this machine". */
  readonly description: string;
  /** Runs `command` with `stdin` on its standard input. */
  exec(command: string, stdin?: string, listener?: OutputListener): Promise<ExecResult>;
  /** Copies a local file to `remotePath`. */
  upload(localPath: string, remotePath: string): Promise<void>;
  /** Ends the login session, so the next command starts a new one (with new groups, say). */
  endSession(): Promise<void>;
}
