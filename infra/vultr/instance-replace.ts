// A new instance is a new, empty disk: replacing the server loses the chat
// store unless a backup is restored onto the new one. So a plan that would
// replace the instance is refused, in its diff (preview and up alike), unless
// the operator asked for it (stack config allowReplace, passed to the
// instance as its input of that name).
import { UNKNOWN } from "./check.js";

/** The stack setting behind each input that replaces the instance, and whether its value may be shown. */
const REPLACING_SETTINGS: Record<string, { key: string; showValue: boolean }> = {
  region: { key: "region", showValue: true },
  osName: { key: "osName", showValue: true },
  hostname: { key: "hostname", showValue: true },
  reservedIpId: { key: "reservedIp", showValue: false },
  // A secret (it holds the first-boot host key): never printed.
  userData: { key: "the cloud-init user data", showValue: false },
};

/** What is lost, and the way to do it on purpose: `how` is the command that replaces. */
export function replaceAdvice(how: string): string {
  return (
    "Replacing the instance deletes the server and its disk: the chat store (every conversation, in NATS " +
    "JetStream) and anything else on it is lost, unless a backup is restored onto the new server. To replace it " +
    `on purpose: pulumi config set allowReplace true; ${how}; then restore the last backup ` +
    "(npm run ops -- restore latest) and pulumi config rm allowReplace."
  );
}

/**
 * Why a plan that replaces the instance is refused, or undefined when it
 * replaces nothing or the operator allowed it.
 */
export function replaceRefusal(
  id: string,
  olds: object,
  news: { allowReplace?: boolean },
  replaces: readonly string[],
): string | undefined {
  if (replaces.length === 0 || news.allowReplace === true) return undefined;
  const before = olds as Record<string, unknown>;
  const after = news as Record<string, unknown>;
  const changes = replaces.map((input) => {
    const setting = REPLACING_SETTINGS[input] ?? { key: input, showValue: false };
    const value = (v: unknown) => (v === UNKNOWN ? "(not known yet)" : JSON.stringify(v ?? ""));
    return setting.showValue
      ? `${setting.key} ${value(before[input])} to ${value(after[input])}`
      : `${setting.key} changed`;
  });
  return (
    `Refused: this plan would replace instance ${id} (${changes.join("; ")}), and allowReplace is not set. ` +
    `Nothing was changed. To keep the server, undo that change in the stack config. ` +
    replaceAdvice("npm run up")
  );
}

/**
 * Vultr copies an instance's SSH keys in only when it creates it, so new key
 * ids (a key deleted, then made again by the next up) change nothing on a
 * running server: recorded, and said, never a replacement.
 */
export function sshKeysNote(id: string, olds: { sshKeyIds?: unknown }, news: { sshKeyIds?: unknown }): string {
  // In a preview, a key still to be made has no id yet.
  const ids = (v: unknown) => JSON.stringify(v ?? []).replaceAll(`"${UNKNOWN}"`, "(a new key)");
  return (
    `Instance ${id}: its SSH key ids changed (${ids(olds.sshKeyIds)} to ${ids(news.sshKeyIds)}). ` +
    "Nothing changes on the server: Vultr installs an instance's keys " +
    "only when it creates it, so the new key is used only by a new instance (the deploy user's key is the " +
    "host steps' sshPublicKey)."
  );
}
