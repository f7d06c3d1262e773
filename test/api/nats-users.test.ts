// The NATS users of templates/stack/nats-auth.conf, on a real nats-server:
// the API does all its work as its own user, the scheduled backup and the
// ops commands as theirs, none can do the others' work, and a rotation adds
// the new users beside the old (a live reload) without cutting a connection.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsCredentials, renderNatsAuth } from "../../infra/host/nats-users.js";
import { loadTemplates } from "../../infra/host/templates.js";
import { takeBackup } from "../../scripts/backup/take.js";
import { restoreBackup } from "../harness/backups.js";
import { ChatClient } from "../../scripts/loopback/chat-client.js";
import { TEST_NATS_SECRET } from "../../scripts/loopback/nats.js";
import { startStack, type Stack } from "../../scripts/loopback/stack.js";
import { scratchDir } from "../../scripts/loopback/tmp.js";
import { tokenFor } from "../../scripts/loopback/tokens.js";

describe("NATS users with least permissions", () => {
  let stack: Stack;
  const dir = scratchDir("nats-users");
  const login = (role: "api" | "backup" | "ops", extra: object = {}) =>
    connect({
      servers: stack.nats.url,
      user: stack.nats.users![role].user,
      pass: stack.nats.users![role].password,
      reconnect: false,
      ...extra,
    });
  const violations = () => stack.nats.nodes[0]!.output.filter((l) => / Violation - /.test(l));
  beforeAll(async () => {
    stack = await startStack({ instances: 2, natsAuth: "users", env: { RATE_LIMIT_REQUESTS: "1000" } });
  });
  afterAll(async () => {
    await stack?.stop();
    dir.remove();
  });

  it("lets the API do all its work as its own user, with no permission refused", async () => {
    const [a, b] = [
      new ChatClient(stack.apis[0]!.url, await tokenFor("pia")),
      new ChatClient(stack.apis[1]!.url, await tokenFor("pia")),
    ];
    const id = await a.createConversation("under its own user");
    const stream = await a.send(id, "hello");
    await stream.ended;
    expect(stream.events.at(-1)!.event).toBe("done");
    const resumed = await b.resume(id, stream.headers["x-message-id"] as string, "0");
    await resumed.ended;
    expect(resumed.events.at(-1)!.event).toBe("done");
    expect((await b.conversation(id)).messages).toHaveLength(2);
    expect((await b.request("GET", "/v1/conversations")).body.conversations).toHaveLength(1);
    // A delete on one instance stops the answers on the other (chat.stop).
    expect((await b.request("DELETE", `/v1/conversations/${id}`)).status).toBe(204);
    expect((await a.request("GET", `/v1/conversations/${id}`)).status).toBe(404);
    for (const api of stack.apis) {
      const health = await fetch(`${api.url}/health`);
      expect(health.status).toBe(200);
    }
    expect(violations()).toEqual([]);
  });

  it("backs up as the backup user and restores as the ops user, but not the other way round", async () => {
    const client = new ChatClient(stack.apis[0]!.url, await tokenFor("quinn"));
    const id = await client.createConversation("to back up");
    await (
      await client.send(id, "kept")
    ).ended;
    const backup = await login("backup");
    let taken;
    try {
      taken = await takeBackup(backup, dir.path, "the test", () => undefined);
      // The backup user may not rewrite or remove what it backs up.
      const jsm = await jetstreamManager(backup);
      await expect(jsm.streams.purge("CONVERSATIONS")).rejects.toThrow(/permission|timeout/i);
      await expect(jsm.streams.delete("KV_conversations")).rejects.toThrow(/permission|timeout/i);
    } finally {
      await backup.close();
    }
    expect(taken.manifest.streams.map((s) => s.name)).toContain("CONVERSATIONS");
    const ops = await login("ops");
    try {
      await restoreBackup(ops, taken.dir, { replaceLive: true, log: () => undefined });
    } finally {
      await ops.close();
    }
    expect((await client.conversation(id)).messages.map((m) => m.content)).toContain("kept");
  });

  it("keeps the API from snapshotting, deleting or restoring a stream, and from other roles' replies", async () => {
    const api = await login("api", { inboxPrefix: "_INBOX_api" });
    try {
      const jsm = await jetstreamManager(api);
      await expect(jsm.streams.delete("CONVERSATIONS")).rejects.toThrow(/permission|timeout/i);
      await expect(takeBackup(api, dir.path, "the api", () => undefined)).rejects.toThrow();
      // Replies to the ops and backup users (the default inbox) are not the API's to read.
      const sub = api.subscribe("_INBOX.>");
      await api.flush();
      await expect(
        (async () => {
          for await (const _ of sub) return;
        })(),
      ).rejects.toThrow(/permission/i);
    } finally {
      await api.close().catch(() => undefined);
    }
    // The server says so in its log: the check the first test makes is not blind.
    expect(violations().join("\n")).toMatch(
      /Publish Violation - User "api-[0-9a-f]{8}", Subject "\$JS\.API\.STREAM\.DELETE\.CONVERSATIONS"/,
    );
    expect(await (await fetch(`${stack.apis[0]!.url}/health`)).status).toBe(200);
  });

  it("rotates: the new users beside the old by a live reload, then the old removed, no connection cut", async () => {
    const authFile = join(stack.nats.configDir, "nats-auth.conf");
    const template = loadTemplates().natsAuth;
    const next = "the-next-nats-secret-of-this-test-0123456789";
    const reload = async (tokens: string[]) => {
      writeFileSync(authFile, renderNatsAuth(template, tokens));
      const before = stack.nats.nodes[0]!.output.length;
      process.kill(stack.nats.nodes[0]!.pid, "SIGHUP");
      await expect
        .poll(() => stack.nats.nodes[0]!.output.slice(before).some((l) => /Reloaded server configuration/.test(l)), {
          timeout: 15_000,
        })
        .toBe(true);
    };
    const old = stack.apis[0]!;
    await reload([next, TEST_NATS_SECRET]);
    // An instance on the new users beside the ones still on the old.
    const nextUsers = natsCredentials(next);
    const moved = await stack.startInstance({ NATS_USER: nextUsers.api.user, NATS_PASSWORD: nextUsers.api.password });
    await old.stop();
    await reload([next]);
    const client = new ChatClient(moved.url, await tokenFor("rosa"));
    const id = await client.createConversation();
    const answer = await client.send(id, "after the rotation");
    await answer.ended;
    expect(answer.events.at(-1)!.event).toBe("done");
    expect(moved.logs().filter((l) => /NATS connection lost/.test(String(l.msg)))).toEqual([]);
    // The other instance, still on the old user, was cut by the last reload: what the rotation's wait prevents.
    await expect
      .poll(() => stack.apis[1]!.logs().some((l) => /NATS connection lost/.test(String(l.msg))), { timeout: 10_000 })
      .toBe(true);
    expect(readFileSync(authFile, "utf8")).not.toContain(stack.nats.users!.api.user);
  });
});

// A stack deployed before NATS had users moves without a cut: its API
// instances are started with both logins first (templates/host/steps/stack.sh),
// then NATS changes from its one token to users.
describe("moving from the single NATS token to users", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ instances: 1 });
  });
  afterAll(() => stack?.stop());

  it("keeps an instance that logs in both ways connected when NATS changes over; one with the token alone is cut", async () => {
    const users = natsCredentials(TEST_NATS_SECRET);
    const both = await stack.startInstance({ NATS_USER: users.api.user, NATS_PASSWORD: users.api.password });
    const tokenOnly = stack.apis[0]!;
    const node = stack.nats.nodes[0]!;
    const conf = join(stack.nats.configDir, "n1.conf");
    writeFileSync(
      join(stack.nats.configDir, "nats-auth.conf"),
      renderNatsAuth(loadTemplates().natsAuth, [TEST_NATS_SECRET]),
    );
    writeFileSync(
      conf,
      readFileSync(conf, "utf8").replace(/^authorization \{ token: .*\}$/m, "include ./nats-auth.conf"),
    );
    const before = node.output.length;
    process.kill(node.pid, "SIGHUP");
    await expect
      .poll(() => node.output.slice(before).some((l) => /Reloaded server configuration/.test(l)), { timeout: 15_000 })
      .toBe(true);
    await expect
      .poll(() => tokenOnly.logs().some((l) => /NATS connection lost/.test(String(l.msg))), { timeout: 10_000 })
      .toBe(true);
    const client = new ChatClient(both.url, await tokenFor("mira"));
    const id = await client.createConversation();
    const answer = await client.send(id, "after the change-over");
    await answer.ended;
    expect(answer.events.at(-1)!.event).toBe("done");
    expect(both.logs().filter((l) => /NATS connection lost/.test(String(l.msg)))).toEqual([]);
  });
});
