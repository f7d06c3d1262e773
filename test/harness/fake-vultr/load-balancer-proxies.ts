// The fake's load balancers as real proxies (options.loadBalancerProxies):
// each one is an HAProxy on a loopback address of its own, configured from
// what the fake keeps (scripts/loopback/haproxy-config.ts). A create starts
// it, a PATCH reloads it (seamlessly: connections open stay), a DELETE stops
// it. The address is the balancer's ipv4; each forwarding rule's frontend
// port is a free port there, kept while the rule stays (`ports`).
import type { ApiLoadBalancer } from "../../../infra/vultr/api-types.js";
import { renderHaproxyConfig, readHaproxyTemplates } from "../../../scripts/loopback/haproxy-config.js";
import { haproxyScratch, startHaproxy, type LoopbackHaproxy } from "../../../scripts/loopback/haproxy.js";
import { freePort } from "../../../scripts/loopback/ports.js";
import { bare } from "./strict.js";
import type { FakeInstance, FakeLoadBalancer, LoadBalancerProxyOptions } from "./types.js";

export interface RunningLoadBalancerProxy {
  /** The balancer's ipv4 once active: where its frontends listen. */
  address: string;
  /** A forwarding rule's frontend_port -> the port it listens on at `address`. */
  ports: Record<number, number>;
  haproxy: LoopbackHaproxy;
}

/** The loopback address of the fake's n-th load balancer (127.0.1.10, .11, ...): one each, as Vultr gives each its own. */
export function proxyAddress(n: number): string {
  if (n > 245) throw new Error("fake-vultr: more than 245 load balancer proxies in one fake");
  return `127.0.1.${9 + n}`;
}

export class LoadBalancerProxies {
  private readonly running = new Map<string, RunningLoadBalancerProxy>();
  // One change at a time: a reload waits for the start or reload before it.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: LoadBalancerProxyOptions,
    private readonly instances: ReadonlyMap<string, FakeInstance>,
  ) {}

  get(id: string): RunningLoadBalancerProxy | undefined {
    return this.running.get(id);
  }

  /** Starts or reloads the balancer's proxy to match it; throws (leaving the proxy as it was) if it cannot. */
  apply(lb: FakeLoadBalancer): Promise<void> {
    return this.serially(() => this.configure(lb));
  }

  remove(id: string): Promise<void> {
    return this.serially(async () => {
      const proxy = this.running.get(id);
      this.running.delete(id);
      await proxy?.haproxy.stop();
    });
  }

  async stopAll(): Promise<void> {
    await this.queue.catch(() => undefined);
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((proxy) => proxy.haproxy.stop()));
  }

  private serially(step: () => Promise<void>): Promise<void> {
    const next = this.queue.catch(() => undefined).then(step);
    this.queue = next;
    return next;
  }

  private async configure(lb: FakeLoadBalancer): Promise<void> {
    const current = this.running.get(lb.id);
    // No rule, nothing to listen on: Vultr's balancer would accept nothing either.
    if (lb.forwarding_rules.length === 0) {
      this.running.delete(lb.id);
      await current?.haproxy.stop();
      return;
    }
    const address = lb.fake.futureIpv4;
    const ports: Record<number, number> = {};
    for (const rule of lb.forwarding_rules) {
      const frontend = rule.frontend_port as number;
      ports[frontend] = current?.ports[frontend] ?? (await freePort(address));
    }
    // Vultr lets a deleted instance go from its balancers; so does the stand-in.
    const present = lb.instances.filter((id) => this.instances.has(id));
    const nodes = Object.fromEntries(present.map((id) => [id, this.options.node(this.instances.get(id)!)]));
    const scratch = current ? undefined : haproxyScratch();
    try {
      const config = renderHaproxyConfig(readHaproxyTemplates(), {
        // The fake keeps Vultr's JSON as it took it; the renderer checks every field it reads.
        loadBalancer: { ...bare(lb), instances: present } as unknown as ApiLoadBalancer,
        nodes,
        listenAddress: address,
        frontendPorts: ports,
        adminSocket: current?.haproxy.adminSocket ?? scratch!.adminSocket,
      });
      if (current) {
        await current.haproxy.reload(config);
        current.ports = ports;
        return;
      }
      const haproxy = await startHaproxy(config, scratch!, { name: `haproxy for load balancer ${lb.id}` });
      this.running.set(lb.id, { address, ports, haproxy });
    } catch (error) {
      scratch?.remove();
      throw error;
    }
  }
}
