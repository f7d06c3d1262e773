import { bootstrapStep } from "../infra/host/steps.js";
import { loadTemplates } from "../infra/host/templates.js";
import { startSystemdHost } from "../test/harness/systemd-host.js";
const host = await startSystemdHost("explore", 214);
const step = bootstrapStep(loadTemplates(), {
  deployUser: "deploy",
  deploySshKey: host.publicKey,
  adminCidrs: [`${host.gatewayAddress}/32`],
  apiHost: "a.example.com",
  acmeEmail: "o@example.com",
  packageSource: "distro",
});
const root = await host.connect("root");
const t0 = Date.now();
const r1 = await root.execCommand(step.command, { stdin: step.script });
console.log("run1", r1.code, (Date.now() - t0) / 1000, r1.stdout.slice(-600), r1.stderr.slice(-800));
root.dispose();
const d = await host.connect("deploy");
const t1 = Date.now();
const r2 = await d.execCommand(step.command, { stdin: step.script });
console.log("run2", r2.code, (Date.now() - t1) / 1000, r2.stdout.slice(-400), r2.stderr.slice(-400));
const t2 = Date.now();
const l = await d.execCommand(
  "sudo lynis audit system --quick --no-colors >/dev/null 2>&1; sudo grep -E '^(suggestion|warning)\\[\\]|hardening_index' /var/log/lynis-report.dat; sudo grep -E 'KRNL-6000|FILE-7524|HRDN-7222|ACCT-9628|FINT-4350' -A12 /var/log/lynis.log | grep -iE 'result|expected|found|permission|compiler|sysctl key' | head -60",
);
console.log("lynis", (Date.now() - t2) / 1000, l.stdout);
d.dispose();
await host.stop();
