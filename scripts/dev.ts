// `npm run dev`: the API on this machine with a local JetStream NATS, for
// development. Uses the mock provider unless ANTHROPIC_API_KEY or
// OPENAI_API_KEY is set, prints a token for the curl examples in docs/api.md,
// and reloads the API when its source changes.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { signToken } from "./ops/sign-token.js";
import { natsServerBinary } from "./setup/tools.js";

const root = join(import.meta.dirname, "..");
const dataDir = join(root, ".tmp/dev");
const natsPort = Number(process.env.DEV_NATS_PORT ?? 4222);
const apiPort = Number(process.env.SERVER_PORT ?? 8080);
const natsToken = process.env.NATS_TOKEN ?? "dev-nats-token-not-for-production";
const jwtSecret = process.env.JWT_SECRET ?? "dev-jwt-secret-not-for-production-0123456789";

mkdirSync(dataDir, { recursive: true });
const natsConfig = join(dataDir, "nats.conf");
writeFileSync(
  natsConfig,
  `listen: 127.0.0.1:${natsPort}\njetstream { store_dir: "${join(dataDir, "jetstream")}" }\nauthorization { token: "${natsToken}" }\n`,
);

const children = [
  spawn(natsServerBinary(), ["-c", natsConfig], { stdio: "inherit" }),
  spawn(join(root, "node_modules/.bin/tsx"), ["watch", join(root, "app/src/server.ts")], {
    stdio: "inherit",
    env: {
      ...process.env,
      SERVER_HOST: "127.0.0.1",
      SERVER_PORT: String(apiPort),
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      NATS_TOKEN: natsToken,
      JWT_SECRET: jwtSecret,
      LLM_PROVIDER:
        process.env.LLM_PROVIDER ?? (process.env.ANTHROPIC_API_KEY || process.env.OPENAI_API_KEY ? "" : "mock"),
    },
  }),
];

// The API gets this shell's environment: a JWT_ISSUER or JWT_AUDIENCE set
// here is required of every token.
const token = await signToken(jwtSecret, {
  subject: "dev-user",
  ttl: "12h",
  issuer: process.env.JWT_ISSUER || undefined,
  audience: process.env.JWT_AUDIENCE || undefined,
});
console.log(`\nAPI: http://127.0.0.1:${apiPort}   (Ctrl-C stops it and NATS)\nexport TOKEN=${token}\n`);

const stop = () => children.forEach((child) => child.kill("SIGTERM"));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
