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
}
