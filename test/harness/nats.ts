// Real nats-server processes with JetStream on loopback: one node, or a
// 3-node cluster. Stopping and starting again keeps the store directory, as
// a container restart with a volume does.
import { writeFileSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";
import { scratchDir } from "./tmp.js";
import { natsServerBinary } from "../../scripts/setup/tools.js";

export const TEST_NATS_TOKEN = "test-nats-token-0123456789";

export class NatsNode {
  private process: ManagedProcess | undefined;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly configPath: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.process?.pid ?? -1;
  }

  async start(): Promise<void> {
    this.process = new ManagedProcess(this.name, natsServerBinary(), ["-c", this.configPath]);
    await this.process.waitFor(/Server is ready/);
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    this.process = undefined;
  }

  kill(): Promise<number | null> {
    this.process?.signal("SIGKILL");
    return this.process?.exited ?? Promise.resolve(null);
  }

  get output(): string[] {
    return this.process?.output ?? [];
  }
}

export interface NatsDeployment {
  nodes: NatsNode[];
  /** Comma-separated client URLs, as NATS_URL takes them. */
  url: string;
  token: string;
  stop(): Promise<void>;
}

export async function startNats(options: { nodes?: 1 | 3 } = {}): Promise<NatsDeployment> {
  const count = options.nodes ?? 1;
  const dir = scratchDir("nats");
  const clientPorts = await Promise.all(Array.from({ length: count }, () => freePort()));
  const clusterPorts = await Promise.all(Array.from({ length: count }, () => freePort()));
  const nodes = clientPorts.map((port, i) => {
    const name = `n${i + 1}`;
    const lines = [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${port}`,
      `jetstream { store_dir: "${join(dir.path, name)}", max_memory_store: 64MB, max_file_store: 1GB }`,
      `authorization { token: "${TEST_NATS_TOKEN}" }`,
    ];
    if (count > 1) {
      const routes = clusterPorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
      lines.push(`cluster { name: test, listen: 127.0.0.1:${clusterPorts[i]}, routes: [${routes.join(", ")}] }`);
    }
    const configPath = join(dir.path, `${name}.conf`);
    writeFileSync(configPath, lines.join("\n") + "\n");
    return new NatsNode(name, port, configPath);
  });
  await Promise.all(nodes.map((n) => n.start()));
  await waitForJetStream(nodes.map((n) => n.url));
  return {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    token: TEST_NATS_TOKEN,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      dir.remove();
    },
  };
}

/** A cluster takes a moment to elect its JetStream meta leader. */
async function waitForJetStream(servers: string[], timeoutMs = 20_000): Promise<void> {
  const nc = await connect({ servers, token: TEST_NATS_TOKEN });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await nc.close();
  }
}
