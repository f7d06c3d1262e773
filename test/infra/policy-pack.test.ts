// The policy pack as the engine loads it (dist/policy-pack, bundled by
// `npm run build`): a preview of a stack that opens NATS and its monitoring
// port to the world, or Prometheus to an admin network, is refused, naming
// the policy and the ports.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createStack } from "../harness/pulumi-engine.js";

const ROOT = join(import.meta.dirname, "../..");

describe("the policy pack under the real engine", () => {
  it("stops a stack that opens NATS or its monitoring port to the world, or Prometheus to anyone", async () => {
    const stack = await createStack({
      name: "world-open",
      projectDir: join(ROOT, "test/fixtures/world-open-ports"),
      config: {},
      secrets: {},
    });
    try {
      const result = await stack.run(["preview", "--policy-pack", join(ROOT, "dist/policy-pack")]);
      const output = result.stdout + result.stderr;
      expect(result.code, output).not.toBe(0);
      expect(output).toMatch(
        /\[mandatory\]\s+firewall-world-only-http-https\s+\(pulumi-nodejs:dynamic\/vultr:FirewallRule: nats-to-the-world\)/,
      );
      expect(output).toMatch(/opens tcp port\(s\) 4222 to the whole internet, exposing 4222 \(NATS clients\)/);
      expect(output).toMatch(/monitoring-to-the-world[\s\S]*8222 \(NATS monitoring\)/);
      expect(output).toMatch(
        /\[mandatory\]\s+firewall-no-monitoring-ports\s+\(pulumi-nodejs:dynamic\/vultr:FirewallRule: prometheus-to-the-admins\)/,
      );
      expect(output).toMatch(/opens 9090 \(Prometheus\) to 203\.0\.113\.7\/32/);
    } finally {
      await stack.remove();
    }
  }, 600_000);
});
