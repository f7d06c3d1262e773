// When the engine runs a host step again: a new script, new triggers (a
// replaced instance) or another machine; never for what does not reach the
// host (the uploaded file's local path, a rotated key, a pinned host key).
import { describe, expect, it } from "vitest";
import { hostStepProvider, type HostStepInputs } from "../../infra/providers/host-step.js";

const inputs: HostStepInputs = {
  target: {
    host: "203.0.113.10",
    port: 22,
    user: "deploy",
    privateKey: "KEY-1",
    hostKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFsjYNldF9+1ZXtc7Fhp00BRJQzmOmWFRd1e0ELnaxJ1"],
    hostKeyFix: "pulumi config set sshHostKey ...",
    dialTimeoutSeconds: 600,
  },
  step: {
    name: "release",
    command: "bash -s",
    script: "echo release",
    hash: "a".repeat(64),
    upload: {
      localPath: "/home/ops/repo/dist/api.cjs",
      remotePath: "/opt/conversational-platform/releases/upload-x.cjs",
    },
  },
  triggers: ["instance-1"],
};
const olds = { ...inputs, output: "release x installed" };
const changes = async (news: HostStepInputs) => (await hostStepProvider.diff("id", olds, news)).changes;

describe("the host step provider's diff", () => {
  it("runs nothing again for the same inputs", async () => {
    expect(await changes(inputs)).toBe(false);
  });

  it("runs the step again on a new instance (its id is a trigger)", async () => {
    expect(await changes({ ...inputs, triggers: ["instance-2"] })).toBe(true);
  });

  it("runs the step again when its script changes, or on another host", async () => {
    expect(await changes({ ...inputs, step: { ...inputs.step, hash: "b".repeat(64) } })).toBe(true);
    expect(await changes({ ...inputs, target: { ...inputs.target, host: "203.0.113.11" } })).toBe(true);
  });

  it("ignores the local path of the upload, a new private key and a newly pinned host key", async () => {
    const upload = { ...inputs.step.upload!, localPath: "/builds/ci/dist/api.cjs" };
    expect(await changes({ ...inputs, step: { ...inputs.step, upload } })).toBe(false);
    expect(await changes({ ...inputs, target: { ...inputs.target, privateKey: "KEY-2" } })).toBe(false);
    // Pinning the key the server already has (sshHostKey set after it was learnt) re-runs nothing.
    expect(await changes({ ...inputs, target: { ...inputs.target, hostKeys: ["ssh-ed25519 AAAA-other"] } })).toBe(
      false,
    );
  });

  it("replaces nothing: a step is run again in place", async () => {
    expect((await hostStepProvider.diff("id", olds, { ...inputs, triggers: ["instance-2"] })).replaces).toBeUndefined();
  });

  it("runs a check again while its last output says it is still pending", async () => {
    const verify = {
      ...inputs,
      step: { ...inputs.step, name: "verify" as const, rerunWhileOutputStarts: "certificate pending" },
    };
    const diff = (output: string) => hostStepProvider.diff("id", { ...verify, output }, verify);
    expect((await diff("certificate pending: api.example.com resolves to nothing here")).changes).toBe(true);
    expect((await diff('{"status":"ok"}')).changes).toBe(false);
  });
});
