/** A backup that cannot be taken, read or restored, in words an operator can act on. */
export class BackupError extends Error {
  override name = "BackupError";
}
