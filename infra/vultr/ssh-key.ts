// SSH keys in the account (govultr ssh_key.go). Both name and key change in
// place (PATCH); the id stays, so instances that reference it are untouched.
// Vultr copies a key into an instance only when the instance is created.
import type { ApiSshKey } from "./api-types.js";
import { InputChecker } from "./check.js";
import { diffInputs } from "../providers/diff.js";
import { deleteIgnoringMissing, getUnlessGone, type Provider, type SettingsSource } from "./provider.js";

export interface SshKeyInputs {
  name: string;
  /** The public key line, e.g. "ssh-ed25519 AAAA... ops@example.com". */
  sshKey: string;
}

export type SshKeyState = SshKeyInputs;

export function sshKeyProvider(settings: SettingsSource): Provider<SshKeyInputs, SshKeyState> {
  return {
    async check(_olds, news) {
      const checker = new InputChecker({ ...news }).text("name").text("sshKey");
      if (typeof news.sshKey === "string" && /PRIVATE KEY/.test(news.sshKey)) {
        checker.fail("sshKey", "is a private key; give the public key (the .pub file)");
      }
      return checker.result(news);
    },

    async diff(_id, olds, news) {
      const { changes } = diffInputs(olds, news, { replace: [], update: ["name", "sshKey"] });
      return { changes };
    },

    async create(inputs) {
      const { ssh_key } = await settings()
        .client()
        .post<{ ssh_key: ApiSshKey }>("/v2/ssh-keys", { name: inputs.name, ssh_key: inputs.sshKey });
      return { id: ssh_key.id, outs: { name: inputs.name, sshKey: inputs.sshKey } };
    },

    async read(id, props) {
      const found = await getUnlessGone<{ ssh_key: ApiSshKey }>(settings, `/v2/ssh-keys/${id}`);
      if (!found) return { id: "", props };
      const { name, ssh_key } = found.ssh_key;
      // Vultr may drop a trailing newline; that is not a different key.
      const sshKey = ssh_key.trim() === props.sshKey.trim() ? props.sshKey : ssh_key;
      return { id, props: { name, sshKey } };
    },

    async update(id, _olds, news) {
      await settings().client().patch(`/v2/ssh-keys/${id}`, { name: news.name, ssh_key: news.sshKey });
      return { outs: { name: news.name, sshKey: news.sshKey } };
    },

    async delete(id) {
      await deleteIgnoringMissing(settings, `/v2/ssh-keys/${id}`);
    },
  };
}
