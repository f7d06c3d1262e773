// `npm run local`: the production stack on this machine's Docker engine, with
// Caddy on https://localhost:8443. `npm run local -- --down` removes it.
import { join } from "node:path";
import { signToken } from "./ops/sign-token.js";
import { natsServerBinary } from "./setup/tools.js";
import { localStackDown, localStackUp } from "./local/local-stack.js";
import { ROOT } from "./project-root.js";

const dir = join(ROOT, ".tmp/local");

if (process.argv.includes("--down")) {
  localStackDown(dir);
} else {
  const stack = await localStackUp({
    dir,
    natsServer: natsServerBinary(),
    httpsPort: 8443,
    httpPort: 8880,
    adminPort: 2119,
  });
  // Compose takes JWT_ISSUER / JWT_AUDIENCE from this shell, when set: the
  // API then requires them of every token.
  const token = await signToken(stack.jwtSecret, {
    subject: "local-user",
    ttl: "12h",
    issuer: process.env.JWT_ISSUER || undefined,
    audience: process.env.JWT_AUDIENCE || undefined,
  });
  console.log(`
The stack is up: NATS and two API instances in Docker, Caddy in front.
  URL:    ${stack.url}
  Token:  export TOKEN=${token}
  CA:     curl --cacert ${stack.caCertificate} ${stack.url}/health
Answers come from the ${process.env.ANTHROPIC_API_KEY || process.env.OPENAI_API_KEY ? "configured provider" : "mock provider (set ANTHROPIC_API_KEY to use a model)"}.
Remove it all with: npm run local -- --down`);
}
