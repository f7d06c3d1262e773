// A Docker engine inside the systemd test host, as the whole host setup will
// need it: Debian's docker.io started by the host's systemd, images loaded
// from this machine (no registry is reachable), a compose project with a
// healthcheck, production-like limits and a port published on the host's
// 127.0.0.1, which nothing outside the host can reach.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SshTransport } from "../../infra/host/runner/ssh.js";
import { run } from "../harness/host-exec.js";
import { loadLocalImages } from "../harness/host-images.js";
import { freePort } from "../../scripts/loopback/ports.js";
import { startSystemdHost, type SystemdHost } from "../harness/systemd-host.js";
import { tcpProbe } from "../harness/tcp-probe.js";

const PROJECT = "/root/docker-in-host";
const MEMORY_LIMIT = 256 * 1024 * 1024;

// The web service: on GET / it opens a TCP connection to NATS by its service
// name and answers with NATS's greeting (the INFO line) and the memory limit
// its own cgroup shows.
const WEB = `
const http = require("node:http"), net = require("node:net"), fs = require("node:fs");
http.createServer((req, res) => {
  if (req.url === "/health") return res.end("ok");
  const nats = net.connect(4222, "nats");
  nats.once("data", (chunk) => {
    nats.destroy();
    const limit = fs.readFileSync("/sys/fs/cgroup/memory/memory.limit_in_bytes", "utf8").trim();
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ nats: chunk.toString().split("\\r\\n")[0], memoryLimit: Number(limit) }));
  });
  nats.once("error", (e) => { res.statusCode = 502; res.end(String(e)); });
}).listen(8080);
`;

describe("Docker inside the systemd test host", () => {
  let host: SystemdHost;
  let root: SshTransport;
  let images: { apiImage: string; natsImage: string };
  let port: number;

  beforeAll(async () => {
    host = await startSystemdHost("dock", { subnet: 214, docker: true });
    const t = host.timings;
    console.log(
      `test host with Docker: root filesystem ${(t.rootfsMs / 1000).toFixed(1)} s, SSH ${(t.sshMs / 1000).toFixed(1)} s, ` +
        `Docker ready ${((t.dockerMs ?? NaN) / 1000).toFixed(1)} s after the start`,
    );
    root = host.transport("root");
    const loadStarted = Date.now();
    images = await loadLocalImages(host, root);
    console.log(`local images built (if changed) and loaded into the host in ${(Date.now() - loadStarted) / 1000} s`);
    // A port free on this machine's loopback: if the host's port leaked out,
    // nothing else here would be answering on it.
    port = await freePort();
  }, 600_000);

  afterAll(async () => {
    await root?.endSession();
    await host?.stop();
  }, 60_000);

  it("runs dockerd under the host's systemd, on overlay2", async () => {
    expect((await run(root, "systemctl is-active containerd docker")).stdout.trim().split("\n")).toEqual([
      "active",
      "active",
    ]);
    const info = await run(root, "docker info --format '{{.Driver}} {{.CgroupDriver}}'");
    expect(info.code, info.output).toBe(0);
    expect(info.stdout.trim()).toBe("overlay2 cgroupfs");
    expect((await run(root, "docker compose version --short")).stdout.trim()).toMatch(/^2\.\d+\.\d+/);
  });

  it("runs a container from an image loaded from this machine", async () => {
    const result = await run(root, `docker run --rm --network none ${images.apiImage} node -p process.version`);
    expect(result.code, result.output).toBe(0);
    // The same node binary as the one running this test.
    expect(result.stdout.trim()).toBe(process.version);
  });

  it("runs a compose project: two services on a bridge network, a healthcheck, limits, a port on 127.0.0.1", async () => {
    const compose = {
      name: "docker-in-host",
      services: {
        nats: {
          image: images.natsImage,
          command: ["-js", "-sd", "/data", "-m", "8222"],
          tmpfs: ["/data"],
          healthcheck: {
            test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz"],
            interval: "1s",
            timeout: "3s",
            retries: 30,
          },
        },
        web: {
          image: images.apiImage,
          command: ["node", "-e", WEB],
          init: true,
          user: "10001:10001",
          read_only: true,
          cap_drop: ["ALL"],
          security_opt: ["no-new-privileges:true"],
          deploy: { resources: { limits: { memory: "256m", cpus: "0.5" } } },
          depends_on: { nats: { condition: "service_healthy" } },
          ports: [`127.0.0.1:${port}:8080`],
          healthcheck: {
            test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"],
            interval: "1s",
            timeout: "3s",
            retries: 30,
          },
        },
      },
    };
    // JSON is YAML: no quoting to get wrong in the inline script.
    const written = await run(root, `mkdir -p ${PROJECT} && cat >${PROJECT}/compose.yml`, JSON.stringify(compose));
    expect(written.code, written.output).toBe(0);
    const up = await run(root, `cd ${PROJECT} && docker compose up -d --wait`);
    expect(up.code, up.output).toBe(0);

    const ps = await run(root, `cd ${PROJECT} && docker compose ps --format '{{.Service}} {{.State}} {{.Health}}'`);
    expect(ps.stdout.trim().split("\n").sort()).toEqual(["nats running healthy", "web running healthy"]);

    const answer = await run(root, `curl -sS --max-time 5 http://127.0.0.1:${port}/`);
    expect(answer.code, answer.output).toBe(0);
    const body = JSON.parse(answer.stdout) as { nats: string; memoryLimit: number };
    expect(body.nats).toMatch(/^INFO \{.*"server_id"/);
    expect(body.nats).toContain('"jetstream":true');
    expect(body.memoryLimit).toBe(MEMORY_LIMIT);
  }, 120_000);

  it("keeps the published port inside the host", async () => {
    // The host answers from here (SSH), so a refusal below is the port's.
    expect(await tcpProbe(host.address, 22, 3000)).toBe("connected");
    expect((await run(root, `curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${port}/health`)).stdout).toBe(
      "200",
    );
    expect(await tcpProbe(host.address, port, 3000)).toBe("ECONNREFUSED");
    expect(await tcpProbe("127.0.0.1", port, 3000)).toBe("ECONNREFUSED");
  });
});
