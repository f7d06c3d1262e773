// A whole test deployment: NATS, a fake model provider, and API instances
// running the bundle, all on loopback. Every test file builds its own.
import { startApi, type RunningApi } from "./api.js";
import { ChatClient } from "./chat-client.js";
import { startFakeAnthropic, startFakeOpenAI, type FakeLlm } from "./fake-llm.js";
import { startNats, type NatsDeployment } from "./nats.js";
import { tokenFor } from "./tokens.js";

export interface Stack {
  nats: NatsDeployment;
  llm: FakeLlm;
  apis: RunningApi[];
  /** Environment the API instances were started with. */
  env: Record<string, string>;
  startInstance(extraEnv?: Record<string, string>): Promise<RunningApi>;
  client(user: string, api?: RunningApi): Promise<ChatClient>;
  stop(): Promise<void>;
}

export async function startStack(
  options: {
    provider?: "anthropic" | "openai";
    instances?: number;
    env?: Record<string, string>;
    natsNodes?: 1 | 3;
    /** Before the bundle on each instance's node command line, e.g. --cpu-prof. */
    nodeArgs?: string[];
    /** "users": NATS with the production users and permissions; the API logs in as its own user. */
    natsAuth?: "token" | "users";
  } = {},
): Promise<Stack> {
  const provider = options.provider ?? "anthropic";
  const nats = await startNats({ nodes: options.natsNodes ?? 1, auth: options.natsAuth });
  const llm = provider === "anthropic" ? await startFakeAnthropic() : await startFakeOpenAI();
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    ...(nats.users
      ? { NATS_USER: nats.users.api.user, NATS_PASSWORD: nats.users.api.password }
      : { NATS_TOKEN: nats.token }),
    LLM_PROVIDER: provider,
    GENERATION_LEASE: "2s",
    ...(provider === "anthropic"
      ? { ANTHROPIC_API_KEY: llm.apiKey, ANTHROPIC_BASE_URL: llm.url }
      : { OPENAI_API_KEY: llm.apiKey, OPENAI_BASE_URL: `${llm.url}/v1` }),
    ...options.env,
  };
  const apis: RunningApi[] = [];
  const startInstance = async (extraEnv: Record<string, string> = {}) => {
    const api = await startApi(
      { INSTANCE_ID: `api-${apis.length + 1}`, ...env, ...extraEnv },
      { nodeArgs: options.nodeArgs ?? [] },
    );
    apis.push(api);
    return api;
  };
  for (let i = 0; i < (options.instances ?? 1); i++) await startInstance();
  return {
    nats,
    llm,
    apis,
    env,
    startInstance,
    client: async (user, api = apis[0]!) => new ChatClient(api.url, await tokenFor(user)),
    async stop() {
      await Promise.all(apis.map((a) => a.stop()));
      await llm.close();
      await nats.stop();
    },
  };
}
