// SSH keys (govultr ssh_key.go): the key must look like an OpenSSH public
// key; an update ignores empty strings.
import { randomUUID } from "node:crypto";
import { INVALID_SSH_KEY } from "./catalogue.js";
import type { FakeContext } from "./context.js";
import { HttpError, list, now, optionalText, text, type Route } from "./strict.js";
import type { Json } from "./types.js";

export function sshKeyRoutes({ state }: FakeContext): Route[] {
  // Vultr's text for a missing key (the Terraform provider matches it).
  const existing = (id: string | undefined) => {
    const key = state.sshKeys.get(id ?? "");
    if (!key) throw new HttpError(400, INVALID_SSH_KEY);
    return key;
  };
  return [
    ["GET", /^\/v2\/ssh-keys$/, (_p, _b, q) => list("ssh_keys", [...state.sshKeys.values()], q)],
    [
      "POST",
      /^\/v2\/ssh-keys$/,
      (_p, body) => {
        const key = { id: randomUUID(), name: text(body, "name"), ssh_key: sshKeyText(body), date_created: now() };
        state.sshKeys.set(key.id, key);
        return { status: 201, body: { ssh_key: key } };
      },
    ],
    ["GET", /^\/v2\/ssh-keys\/([^/]+)$/, ([id]) => ({ status: 200, body: { ssh_key: existing(id) } })],
    [
      "PATCH",
      /^\/v2\/ssh-keys\/([^/]+)$/,
      ([id], body) => {
        const key = existing(id);
        // govultr: empty strings are ignored.
        if (optionalText(body, "name")) key.name = text(body, "name");
        if (optionalText(body, "ssh_key")) key.ssh_key = sshKeyText(body);
        return { status: 204 };
      },
    ],
    [
      "DELETE",
      /^\/v2\/ssh-keys\/([^/]+)$/,
      ([id]) => {
        state.sshKeys.delete(existing(id).id);
        return { status: 204 };
      },
    ],
  ];
}

function sshKeyText(body: Json): string {
  const key = text(body, "ssh_key");
  if (!/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-) ?\S*/.test(key)) throw new HttpError(400, "Invalid SSH key");
  return key;
}
