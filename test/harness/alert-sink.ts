// The receivers a deployed test host sends its alerts to, on this machine's
// side of the host's link (as the S3 endpoint in s3.ts): an https webhook
// (the team's, path /team) and heartbeat URL (path /heartbeat), and an SMTP
// sink. The stack's parser refuses a plain http:// URL to anything but the
// host's loopback (a token would cross the network in clear), so the webhook
// is https with a certificate for the link's address, signed by a CA of the
// test's own that installCa() adds to the host's trust store, where
// Alertmanager (Go) reads it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import type { SshTransport } from "../../infra/host/runner/ssh.js";

export interface Notice {
  path: string;
  at: number;
  body: {
    receiver: string;
    status: "firing" | "resolved";
    alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
  };
}
export interface Mail {
  at: number;
  from: string;
  to: string[];
  raw: string;
}

export interface AlertSink {
  /** https://ADDRESS:PORT; the team's webhook is at /team, the heartbeat at /heartbeat. */
  url: string;
  /** ADDRESS:PORT of the SMTP sink (no TLS, no login). */
  smtp: string;
  /** The CA that signed the webhook's certificate (PEM). */
  caPem: string;
  /** Everything received so far, in order. */
  notices: Notice[];
  mails: Mail[];
  /** Adds the CA to the host's trust store (update-ca-certificates). */
  installCa(root: SshTransport): Promise<void>;
  stop(): Promise<void>;
}

/** Starts both on `address` (the host side of the host's link), on free ports. */
export async function startAlertSink(address: string): Promise<AlertSink> {
  return startWithCerts(address, makeCerts(address));
}

function makeCerts(address: string): { caPem: string; certPem: string; keyPem: string } {
  const dir = mkdtempSync(join(tmpdir(), "alert-sink-"));
  try {
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=platform test alert CA",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${address}`,
      "-keyout",
      "sink.key",
      "-out",
      "sink.csr",
    );
    writeFileSync(join(dir, "ext.cnf"), `subjectAltName=IP:${address}\n`);
    openssl(
      "x509",
      "-req",
      "-in",
      "sink.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
      "-out",
      "sink.pem",
    );
    const read = (file: string) => readFileSync(join(dir, file), "utf8");
    return { caPem: read("ca.pem"), certPem: read("sink.pem"), keyPem: read("sink.key") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function startWithCerts(
  address: string,
  certs: { caPem: string; certPem: string; keyPem: string },
): Promise<AlertSink> {
  const notices: Notice[] = [];
  const mails: Mail[] = [];
  const https: Server = createServer({ cert: certs.certPem, key: certs.keyPem }, (request, response) => {
    let text = "";
    request.on("data", (chunk) => (text += String(chunk)));
    request.on("end", () => {
      try {
        notices.push({ path: request.url ?? "", at: Date.now(), body: JSON.parse(text) as Notice["body"] });
      } catch {
        // Not Alertmanager's JSON: not a notice.
      }
      response.end("ok");
    });
  });
  const smtp = new SMTPServer({
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      let raw = "";
      stream.on("data", (chunk: Buffer) => (raw += chunk.toString()));
      stream.on("end", () => {
        mails.push({
          at: Date.now(),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => https.listen(0, address, resolve));
  await new Promise<void>((resolve) => smtp.listen(0, address, resolve));
  const httpsPort = (https.address() as AddressInfo).port;
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  return {
    url: `https://${address}:${httpsPort}`,
    smtp: `${address}:${smtpPort}`,
    caPem: certs.caPem,
    notices,
    mails,
    async installCa(root) {
      const put = await root.exec(
        "cat >/usr/local/share/ca-certificates/platform-test-alerts.crt && update-ca-certificates >/dev/null",
        certs.caPem,
      );
      if (put.code !== 0) throw new Error(`installing the alert sink's CA on the host: ${put.stdout}\n${put.stderr}`);
    },
    async stop() {
      https.closeAllConnections();
      await new Promise((resolve) => https.close(resolve));
      await new Promise((resolve) => smtp.close(() => resolve(undefined)));
    },
  };
}
