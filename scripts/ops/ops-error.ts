// A failure the operator can act on: its message says what is wrong and the
// way out, and `npm run ops` prints it alone.
export class OpsError extends Error {
  override name = "OpsError";
}
