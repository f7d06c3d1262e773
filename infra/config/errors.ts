/**
 * A mistake in the stack's configuration: names the key, the problem and the
 * way out. Thrown before any resource is declared, so nothing is touched.
 */
export class StackConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
    fix: string,
  ) {
    super(`Config "${key}": ${problem}. ${fix}`);
    this.name = "StackConfigError";
  }

  /**
   * Read by the Pulumi SDK: show the message alone. The stack adds nothing
   * for a config mistake, and formatting it took 35 to 38 s on Node 20.20
   * (util.inspect looped on the SDK's source-mapped "node_modules/@pulumi/x.ts"
   * frames until the string was too long); about 2 s on Node 24.
   */
  readonly hideStack = true;
}
