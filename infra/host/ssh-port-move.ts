// config sshPort changed on a server that is already deployed. The program
// moves sshd only on a new Vultr instance (cloud-init); on a running server
// the operator moves it, and a deploy before that would dial a port sshd does
// not listen on for sshDialTimeout seconds, then blame adminCidrs. So a host
// step whose port changed is refused in its diff (which `pulumi preview` and
// `up` run before anything changes) unless sshd already answers there. Pure:
// the host-step provider probes (transport/ssh-port-probe.ts) and decides with these.

export interface SshPortMove {
  host: string;
  from: number;
  to: number;
}

/** Where a step connects, as far as a port move is concerned (the engine hands an unknown value as a string). */
interface Where {
  host?: unknown;
  port?: unknown;
}

/**
 * The move between a step's last target and its new one: the same host on
 * another port. Nothing for a first run (no old target), another host (a
 * new server, configured from scratch) or a target not known yet (preview).
 */
export function sshPortMove(olds: unknown, news: unknown): SshPortMove | undefined {
  if (!isTarget(olds) || !isTarget(news)) return undefined;
  if (olds.host !== news.host || olds.port === news.port) return undefined;
  return { host: news.host, from: olds.port, to: news.port };
}

function isTarget(value: unknown): value is { host: string; port: number } {
  if (typeof value !== "object" || value === null) return false;
  const { host, port } = value as Where;
  return typeof host === "string" && host !== "" && typeof port === "number";
}

/** The refusal: both ports, why, and the order that never closes the way in. */
export function sshPortMoveRefusal(move: SshPortMove): string {
  const { host, from, to } = move;
  return (
    `sshPort changed from ${from} to ${to}, but no SSH server answers on ${host}:${to} (asked from here, and on the server ` +
    `itself through port ${from}): every host step would dial a port sshd does not listen on. This program moves sshd only ` +
    `on a new server (cloud-init); move it on this one yourself, keeping port ${from} open until the deploy is done ` +
    `(docs/operations.md, "Move SSH to another port"): ` +
    `1. on the server, let sshd listen on both ports: printf 'Port ${from}\\nPort ${to}\\n' | sudo tee /etc/ssh/sshd_config.d/00-platform-port.conf, ` +
    "then sudo systemctl daemon-reload; if systemctl is-enabled --quiet ssh.socket; then sudo systemctl restart ssh.socket; fi; " +
    "sudo systemctl restart ssh; " +
    `and let the admins in: sudo ufw allow from <each adminCidrs entry> to any port ${to} proto tcp. ` +
    `2. npm run up: the steps connect on ${to}, and the Vultr firewall and ufw then admit SSH on ${to} only. ` +
    `3. remove "Port ${from}" from that file and restart ssh as in 1. ` +
    `Or keep SSH where it is: pulumi config set sshPort ${from}. Refused before any host step ran.`
  );
}
