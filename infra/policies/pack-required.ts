// The program runs only when the engine loads this project's policy pack.
// The Pulumi CLI takes a local pack only from `--policy-pack`: Pulumi.yaml
// cannot name one (pulumi/pulumi issue 5541, open), so a stock `pulumi up`
// would deploy with no policy at all. scripts/pulumi.sh tells the program
// which pack it passed, in POLICY_PACK_ENV; without it the program stops
// before it declares any resource. infra/README.md says why this and not
// the rules run a second time inside the program.
import { resolve } from "node:path";

/** Set by scripts/pulumi.sh to the `--policy-pack` it passes the CLI. */
export const POLICY_PACK_ENV = "PLATFORM_POLICY_PACK";
/** Where `npm run build` puts the pack, relative to the project folder. */
export const POLICY_PACK_DIR = "dist/policy-pack";

export interface PackSeen {
  /** POLICY_PACK_ENV as the program sees it. */
  given: string | undefined;
  /**
   * The project folder (where Pulumi.yaml is). A relative `given` is read
   * from here: scripts/pulumi.sh runs the CLI in it, and the program's own
   * working folder is not (the engine starts it in main's folder, infra/).
   */
  projectDir: string;
}

/** Why the program must not run, or undefined when this project's pack is loaded. */
export function policyPackRefusal({ given, projectDir }: PackSeen): string | undefined {
  const expected = resolve(projectDir, POLICY_PACK_DIR);
  if (given === undefined || given.trim() === "") {
    return (
      `This program runs only with its policy pack (${POLICY_PACK_DIR}), and Pulumi cannot load a policy pack ` +
      `from Pulumi.yaml: a plain "pulumi up" or "pulumi preview" would deploy without the rules that keep ` +
      `SSH, NATS and secrets off the internet. Run "npm run up" (or "npm run preview"), which builds the pack ` +
      `and passes it; "npm run pulumi -- up --policy-pack ${POLICY_PACK_DIR}" does too. Nothing was changed.`
    );
  }
  if (resolve(projectDir, given) !== expected) {
    return (
      `${POLICY_PACK_ENV} names the policy pack ${given}, not this project's (${expected}): the deploy would ` +
      `run without the project's rules. Run "npm run up" (or "npm run preview"). Nothing was changed.`
    );
  }
  return undefined;
}
