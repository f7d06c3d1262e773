// The contract every provider in this project implements (the Vultr kinds,
// the host steps): Pulumi's dynamic provider semantics in plain TypeScript,
// so the logic is testable without the engine and the providers bundle holds
// no Pulumi code. infra/providers/dynamic.ts wraps these objects for Pulumi.

export interface CheckFailure {
  property: string;
  reason: string;
}

export interface CheckResult<I> {
  inputs: I;
  failures?: CheckFailure[];
}

export interface DiffResult {
  changes: boolean;
  /** Input names whose change needs a new resource. */
  replaces?: string[];
  /** Delete the old resource before creating its replacement. */
  deleteBeforeReplace?: boolean;
}

/**
 * One resource kind. `O` is the whole state kept by Pulumi: the inputs echoed
 * back plus what the API computed, because a dynamic provider's `olds` in diff
 * and update are the previous outputs, not the previous inputs.
 */
export interface Provider<I, O> {
  check?(olds: Partial<I>, news: I): Promise<CheckResult<I>>;
  diff(id: string, olds: O & I, news: I): Promise<DiffResult>;
  create(inputs: I): Promise<{ id: string; outs: O }>;
  /** An empty id means the resource no longer exists (Pulumi drops it from state). */
  read?(id: string, props: O & I): Promise<{ id: string; props: O }>;
  update?(id: string, olds: O & I, news: I): Promise<{ outs: O }>;
  delete(id: string, props: O & I): Promise<void>;
}

/**
 * Any kind's provider, as the registry holds them: Pulumi hands dynamic
 * providers untyped property bags, and each kind's `check` validates its own.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProvider = Provider<any, any>;
