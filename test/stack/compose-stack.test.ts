// The production compose stack, for real, on a local Docker engine: NATS and
// two API instances running the built bundle in locally built images, Caddy
// in front with the project's Caddyfile. Installed by the same release and
// stack steps a deploy runs on the host.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_STACK_SETTINGS, localStackDown, type LocalStack } from "../../scripts/local/local-stack.js";
import { ROOT } from "../../scripts/project-root.js";
import { ChatClient, textOf } from "../../scripts/loopback/chat-client.js";
import { requestJson, waitUntilHealthy } from "../../scripts/loopback/http-client.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";
import { testStackDown, testStackUp } from "../harness/local-stack.js";
import { runStep } from "../../infra/host/runner/run.js";
import { stackStep, type StackSettings } from "../../infra/host/steps.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { LocalTransport } from "../../infra/host/runner/local.js";

const DIR = join(ROOT, ".tmp/test-stack");

describe("the compose stack behind Caddy", () => {
  let stack: LocalStack;
  let client: ChatClient;
  let ca: Buffer;
  beforeAll(async () => {
    stack = await testStackUp(DIR, { llmProvider: "mock", llmApiKey: "", apiSettings: {} });
    ca = readFileSync(stack.caCertificate);
    client = new ChatClient(stack.url, await tokenFor("stack-user", { secret: stack.jwtSecret }), {
      ca,
      headers: { "accept-encoding": "gzip" },
    });
    // Caddy's first health checks and certificate.
    await waitUntilHealthy(stack.url, { ca });
  }, 180_000);
  // Containers get their stop grace period (an API instance up to 60 s with answers in flight).
  afterAll(() => testStackDown(DIR), 180_000);

  it("streams answers through Caddy event by event", async () => {
    const id = await client.createConversation();
    const stream = await client.send(id, "one two three four five six seven eight");
    await stream.ended;
    expect(stream.status).toBe(200);
    expect(stream.headers["content-encoding"]).toBeUndefined();
    expect(textOf(stream)).toContain("[mock provider");
    const deltas = stream.events.filter((e) => e.event === "delta");
    expect(deltas.length).toBeGreaterThan(8);
    // The mock sends a word every 30 ms: buffered, they would land together.
    expect(deltas.at(-1)!.at - deltas[0]!.at).toBeGreaterThan(200);
  });

  it("runs the API instances on the suite's Node (Node 24, the local image's)", () => {
    for (const api of ["api-1", "api-2"]) {
      expect(stack.compose("exec", "-T", api, "node", "-p", "process.version").trim(), api).toBe(process.version);
    }
  });

  it("loses no conversation when NATS restarts", async () => {
    const id = await client.createConversation("before the restart");
    for (const text of ["first", "second"]) await (await client.send(id, text)).ended;
    stack.compose("restart", "nats");
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await client.request("GET", `/v1/conversations/${id}`).catch(() => undefined);
      if (res?.status === 200) {
        expect(
          res.body.messages.map((m: { content: string }) => m.content).filter((c: string) => !c.startsWith("[mock")),
        ).toEqual(["first", "second"]);
        expect(res.body.messages.filter((m: { status?: string }) => m.status === "complete")).toHaveLength(2);
        break;
      }
      if (Date.now() > deadline) throw new Error(`no recovery after the NATS restart: ${res?.status} ${res?.text}`);
      await sleep(500);
    }
    const after = await client.send(id, "after");
    await after.ended;
    expect(after.events.at(-1)!.event).toBe("done");
  });

  it("fails no request while one API instance restarts", async () => {
    const id = await client.createConversation();
    const results: Array<{ status: number; last?: string }> = [];
    let inFlight = 0;
    let inFlightAtRestart = 0;
    let doneBeforeRestartEnded = 0;
    let restarting = true;
    const restart = (async () => {
      // Both workers' answers are on their way when the restart begins
      // (bounded wait), whatever the machine's load.
      const deadline = Date.now() + 30_000;
      while (inFlight < 2 && Date.now() < deadline) await sleep(20);
      inFlightAtRestart = inFlight;
      stack.compose("restart", "api-1");
      doneBeforeRestartEnded = results.length;
      restarting = false;
    })();
    // Bounded: at most 200 requests, 2 at a time, until the restart is over
    // and 2 s more.
    let stopAt = Infinity;
    const worker = async () => {
      for (let i = 0; i < 100 && Date.now() < stopAt; i++) {
        if (!restarting && stopAt === Infinity) stopAt = Date.now() + 2000;
        inFlight++;
        const stream = await client.send(id, `request ${i}`);
        await stream.ended;
        inFlight--;
        results.push({ status: stream.status, last: stream.events.at(-1)?.event });
      }
    };
    await Promise.all([worker(), worker(), restart]);
    // Requests were in flight as the instance went down, and more were served after it came back.
    expect(inFlightAtRestart).toBe(2);
    expect(results.length).toBeGreaterThan(doneBeforeRestartEnded);
    expect(results.filter((r) => r.status !== 200 || r.last !== "done")).toEqual([]);
  });

  it("deploys a new release while answers stream, and cuts none", async () => {
    const id = await client.createConversation();
    // A new bundle (same code, another release id), deployed as a host would.
    const bundle = Buffer.concat([readFileSync(join(ROOT, "dist/api.cjs")), Buffer.from("\n// next release\n")]);
    const before = Date.now();
    let deployed = false;
    const deploy = stack.deploy(bundle).finally(() => (deployed = true));
    // Bounded: two clients, at most 40 answers each of about 3 s, sent until
    // the deploy is over.
    const results: Array<{ status: number; last?: string; deltas: number }> = [];
    const words = Array.from({ length: 90 }, (_, i) => `w${i}`).join(" ");
    const worker = async () => {
      for (let i = 0; i < 40 && !deployed; i++) {
        const stream = await client.send(id, words);
        await stream.ended;
        results.push({
          status: stream.status,
          last: stream.events.at(-1)?.event,
          deltas: stream.events.filter((e) => e.event === "delta").length,
        });
      }
    };
    const [release] = await Promise.all([deploy, worker(), worker()]);
    console.log(`answers during the deploy: ${results.length}`);
    expect(results.length).toBeGreaterThanOrEqual(4);
    expect(results.filter((r) => r.status !== 200 || r.last !== "done" || r.deltas < 90)).toEqual([]);
    // Both instances were replaced and run the new release.
    expect(readFileSync(join(DIR, "app/current-release"), "utf8")).toBe(`${release}\n`);
    for (const api of ["api-1", "api-2"]) {
      const [container] = JSON.parse(
        execFileSync("docker", ["inspect", stack.compose("ps", "-q", api).trim()], { encoding: "utf8" }),
      ) as Array<{ Created: string; Mounts: Array<{ Source: string; Destination: string }> }>;
      expect(Date.parse(container!.Created), api).toBeGreaterThan(before);
      expect(container!.Mounts.find((m) => m.Destination === "/app")?.Source, api).toBe(
        join(DIR, `app/releases/${release}`),
      );
    }
  }, 120_000);

  it("applies a changed NATS config: a live reload when nats-server takes it, else a restart the API rides out", async () => {
    const template = loadTemplates().natsConf;
    // The settings localStackUp deployed, or the .env would change and the
    // API instances be replaced (checked below).
    const settings = JSON.parse(readFileSync(join(DIR, LOCAL_STACK_SETTINGS), "utf8")) as StackSettings;
    // The stack step as the local stack deploys it, with another NATS config.
    const stackStepWith = async (natsConf: string) => {
      const output = await runStep(
        new LocalTransport(),
        stackStep(
          { ...loadTemplates(), natsConf },
          settings,
          readFileSync(join(DIR, "app/pulumi-release"), "utf8").trim(),
          { appDir: join(DIR, "app"), dataDir: join(DIR, "data") },
          "npm run local",
        ),
      );
      expect(output).not.toMatch(/installed \S+\/\.env/);
      return output;
    };
    // Monitoring listens inside the NATS container only.
    const varz = async () =>
      JSON.parse(stack.compose("exec", "-T", "nats", "wget", "-qO-", "http://127.0.0.1:8222/varz"));
    const apiStarts = () =>
      ["api-1", "api-2"].map((api) =>
        execFileSync(
          "docker",
          ["inspect", "-f", "{{.Id}} {{.State.StartedAt}}", stack.compose("ps", "-q", api).trim()],
          {
            encoding: "utf8",
          },
        ),
      );
    const apisHealthy = async () =>
      (
        await Promise.all(
          [8081, 8082].map(
            async (port) => (await requestJson("GET", `http://127.0.0.1:${port}/health/details`)).body.nats,
          ),
        )
      ).join(" ");
    const apis = apiStarts();
    const id = await client.createConversation("before the NATS config changes");
    await (
      await client.send(id, "kept")
    ).ended;
    const timed = async (what: string, run: () => Promise<string>) => {
      const start = Date.now();
      const output = await run();
      const said = output.split("\n").filter((l) => /NATS/.test(l));
      console.log(`${what}: ${((Date.now() - start) / 1000).toFixed(1)} s\n${said.join("\n")}`);
      return output;
    };

    try {
      // Converged twice: the second run finds the server on the installed config and leaves it be.
      await stackStepWith(template);
      const settled = await varz();
      expect(await timed("stack step, nothing to apply", () => stackStepWith(template))).not.toMatch(
        /NATS config reloaded|restarting NATS/,
      );
      expect((await varz()).config_load_time).toBe(settled.config_load_time);

      // A deploy that installed a new config and failed before applying it:
      // the file on the host is already the new one, the server still runs the old.
      const reloadable = template.replace("max_payload: 1MB", "max_payload: 2MB").replace('"10s"', '"20s"');
      expect(reloadable).not.toBe(template);
      // A new file renamed into place, as install does: a new inode.
      writeFileSync(join(DIR, "app/nats/nats-server.conf.new"), reloadable);
      renameSync(join(DIR, "app/nats/nats-server.conf.new"), join(DIR, "app/nats/nats-server.conf"));
      const before = await varz();
      const reloaded = await timed("stack step, NATS config reloaded", () => stackStepWith(reloadable));
      expect(reloaded).toMatch(/NATS config reloaded live/);
      const after = await varz();
      expect(after.max_payload).toBe(2 * 1024 * 1024);
      expect(after.write_deadline).toBe(20e9);
      expect(after.config_load_time).not.toBe(before.config_load_time);
      // The same server, and no client connected again: the API kept its connections.
      expect(after.start).toBe(before.start);
      expect(after.total_connections).toBe(before.total_connections);
      expect(after.connections).toBe(before.connections);
      expect(apiStarts()).toEqual(apis);
      expect(await apisHealthy()).toBe("connected connected");

      // JetStream's limits are not reloadable: nats-server refuses, keeps the
      // old config whole, and the step restarts it.
      const restartOnly = reloadable.replace("max_file_store: 20GB", "max_file_store: 24GB");
      expect(restartOnly).not.toBe(reloadable);
      const restarted = await timed("stack step, NATS restarted", () => stackStepWith(restartOnly));
      expect(restarted).toMatch(
        /restarting NATS for its new config: nats-server refused to reload it: config reload not supported for jetstream max memory and store/,
      );
      const fresh = await varz();
      expect(fresh.start).not.toBe(after.start);
      expect(fresh.jetstream.config.max_storage).toBe(24 * 1024 ** 3);
      expect(fresh.max_payload).toBe(2 * 1024 * 1024);
      // The API instances were not restarted: they reconnected.
      expect(apiStarts()).toEqual(apis);
      await expect.poll(apisHealthy, { timeout: 30_000 }).toBe("connected connected");
      expect((await client.conversation(id)).messages.map((m) => m.content)).toContain("kept");
      const answer = await client.send(id, "after the restart");
      await answer.ended;
      expect(answer.events.at(-1)!.event).toBe("done");
    } finally {
      // Back to the template, for the tests after this one.
      await stackStepWith(template);
    }
    const back = await varz();
    expect(back.max_payload).toBe(1024 * 1024);
    expect(back.jetstream.config.max_storage).toBe(20 * 1024 ** 3);
  }, 300_000);

  it("answers npm run ops with --local, to rehearse on this machine what runs on a server", () => {
    const ops = (...args: string[]) =>
      spawnSync("npm", ["run", "-s", "ops", "--", ...args, "--local", "--local-dir", DIR], {
        cwd: ROOT,
        encoding: "utf8",
      });
    const status = ops("status", "--json");
    expect(status.status, status.stderr).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed.health).toEqual({ httpStatus: 200, body: { status: "ok" } });
    // Each instance's details, read on the host, never through Caddy.
    expect(parsed.instances).toMatchObject([
      { port: 8081, httpStatus: 200, body: { status: "ok", instance: "api-1", nats: "connected" } },
      { port: 8082, httpStatus: 200, body: { status: "ok", instance: "api-2", nats: "connected" } },
    ]);
    expect(parsed.release).toBe(readFileSync(join(DIR, "app/current-release"), "utf8").trim());
    expect(parsed.certificate.issuer).toMatch(/Caddy Local Authority/);
    const releases = JSON.parse(ops("releases", "--json").stdout);
    expect(releases.current).toBe(parsed.release);
    expect(releases.audit.map((e: { actor: string }) => e.actor)).toContain("npm run local");
  });

  it("publishes nothing beyond 127.0.0.1, and runs every container read-only, unprivileged and capped", () => {
    const ids = stack.compose("ps", "-q").trim().split("\n");
    expect(ids).toHaveLength(3);
    const containers = JSON.parse(execFileSync("docker", ["inspect", ...ids], { encoding: "utf8" })) as Array<{
      Name: string;
      Config: { User: string };
      HostConfig: {
        ReadonlyRootfs: boolean;
        CapDrop: string[];
        SecurityOpt: string[];
        Memory: number;
        PortBindings: Record<string, Array<{ HostIp: string }>> | null;
      };
    }>;
    for (const c of containers) {
      expect(c.HostConfig.ReadonlyRootfs, c.Name).toBe(true);
      expect(c.HostConfig.CapDrop, c.Name).toEqual(["ALL"]);
      expect(c.HostConfig.SecurityOpt, c.Name).toContain("no-new-privileges:true");
      expect(c.Config.User, c.Name).toBe("10001:10001");
      expect(c.HostConfig.Memory, c.Name).toBeGreaterThan(0);
      for (const bindings of Object.values(c.HostConfig.PortBindings ?? {})) {
        for (const b of bindings) expect(b.HostIp, c.Name).toBe("127.0.0.1");
      }
    }
    // What actually listens on this machine for the stack: docker-proxy, on loopback only.
    const listeners = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => /docker-proxy/.test(l));
    expect(listeners.length).toBeGreaterThanOrEqual(3);
    for (const l of listeners) expect(l).toMatch(/\s127\.0\.0\.1:\d+\s/);
  });

  it("will not take down or start over its own running copy from another directory", async () => {
    // As `npm run local -- --down` would, run from another directory while this copy is up.
    const other = join(ROOT, ".tmp/test-stack-other");
    mkdirSync(join(other, "app"), { recursive: true });
    copyFileSync(join(DIR, "app/docker-compose.prod.yml"), join(other, "app/docker-compose.prod.yml"));
    expect(() => localStackDown(other, () => undefined)).toThrow(
      new RegExp(`another copy of the stack is running from ${DIR}/app: .*Remove it first`),
    );
    expect(existsSync(other)).toBe(true);
    rmSync(other, { recursive: true });
    expect(stack.compose("ps", "-q").trim().split("\n")).toHaveLength(3);
    expect((await requestJson("GET", `${stack.url}/health`, undefined, { ca })).status).toBe(200);
  });

  it("backs up, purges in an emergency and restores with npm run ops --local, the API stopped only meanwhile", async () => {
    const ops = (...args: string[]) =>
      spawnSync("npm", ["run", "-s", "ops", "--", ...args, "--local", "--local-dir", DIR], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, OPS_ACTOR: "compose-stack-test" },
      });
    const id = await client.createConversation("before the purge");
    await (
      await client.send(id, "hello")
    ).ended;
    const backups = join(DIR, "backups");
    const backup = ops("backup", "--out", backups);
    expect(backup.status, backup.stderr).toBe(0);
    const name = /saved \S+\/(backup-\d{8}T\d{6}Z)/.exec(backup.stdout)![1]!;

    const unconfirmed = ops("purge");
    expect(unconfirmed.status).toBe(1);
    expect(unconfirmed.stderr).toMatch(/purge deletes every conversation on the local stack .*--confirm/);
    expect((await client.request("GET", `/v1/conversations/${id}`)).status).toBe(200);

    const purged = ops("purge", "--confirm", "--no-backup");
    expect(purged.status, purged.stderr).toBe(0);
    expect(purged.stdout).toMatch(/CONVERSATIONS: \d+ messages purged/);
    expect((await client.request("GET", `/v1/conversations/${id}`)).status).toBe(404);

    const restored = ops("restore", join(backups, name));
    expect(restored.status, restored.stdout + restored.stderr).toBe(0);
    expect((await client.conversation(id)).messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    const audit = JSON.parse(ops("releases", "--json").stdout).audit.map((e: { action: string }) => e.action);
    expect(audit.slice(-2)).toEqual(["purge", "restore"]);
    expect(stack.compose("ps", "-q").trim().split("\n")).toHaveLength(3);

    // Cut off while the API is being stopped (the operator's machine dies): the API comes back by itself.
    const cut = spawn(
      "npx",
      ["tsx", "scripts/ops.ts", "restore", join(backups, name), "--replace", "--local", "--local-dir", DIR],
      {
        cwd: ROOT,
        detached: true,
        env: { ...process.env, OPS_ACTOR: "compose-stack-test" },
      },
    );
    let said = "";
    cut.stdout.on("data", (c: Buffer) => (said += c.toString()));
    // Stopping takes seconds (each instance drains first): the cut lands before the restore begins.
    await expect.poll(() => said, { timeout: 60_000 }).toContain("stopping the API instances");
    process.kill(-cut.pid!, "SIGKILL");
    await expect
      .poll(() => (JSON.parse(ops("releases", "--json").stdout).audit.at(-1) as { detail: string }).detail, {
        timeout: 120_000,
      })
      .toContain("interrupted: the operator's connection closed");
    await expect
      .poll(async () => (await client.request("GET", `/v1/conversations/${id}`)).status, { timeout: 120_000 })
      .toBe(200);
    // Both instances, one after the other, and then the host's script lets go of the deploy lock.
    const lockFree = () =>
      spawnSync("flock", ["-n", join(DIR, "app/.deploy.lock"), "true"]).status === 0 &&
      stack.compose("ps", "--status", "running", "-q").trim().split("\n").length === 3;
    await expect.poll(lockFree, { timeout: 180_000 }).toBe(true);
  }, 500_000);
});
