// `npm run bench [-- --quick] [-- --json FILE]`: the full stack against its
// baselines in one run, on loopback (bench/platform.ts), every loop bounded
// by a count and a deadline. Prints a table with the targets and writes the
// figures as JSON. Not a test: the suite only checks that --quick runs and
// writes well-formed results. --profile DIR: a CPU profile of each API
// instance, summarized at the end (bench/profile.ts); --heap DIR: heap
// snapshots of one instance before and while streams are held, compared
// (bench/heap.ts). --backup-store-mb N: the backup measure's store size (1 GB in
// the full run, 64 MB with --quick).
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { holdStreams } from "./measure/concurrency.js";
import { growth } from "./measure/growth.js";
import { latency } from "./measure/latency.js";
import { relay } from "./measure/relay.js";
import { stages } from "./measure/stages.js";
import { deployCost } from "./measure/deploy.js";
import { backupThroughput } from "./measure/backup-throughput.js";
import { jetStreamBytes } from "./measure/storage.js";
import { ROOT } from "../scripts/project-root.js";
import { BUNDLE } from "../scripts/loopback/api.js";
import { startPlatform } from "./platform.js";
import { heapGrowthPerStream } from "./heap.js";
import { summarize } from "./profile.js";
import { deployCount } from "./deploy-count.js";
import { round, table, verdicts, type Headline } from "./stats.js";

const MODES = {
  quick: {
    latency: { concurrency: 10, answers: 60 },
    single: { concurrency: 1, answers: 20 },
    loaded: { concurrency: 40, answers: 80 },
    relay: { concurrency: 20, answers: 40, tokens: 100 },
    hold: { streams: 400, openPerSecond: 200 },
    growth: { sizes: [10, 100], samples: 3, reads: 5 },
    stageSamples: 10,
    backupStoreMB: 64,
    minutes: 2,
  },
  full: {
    latency: { concurrency: 10, answers: 300 },
    single: { concurrency: 1, answers: 100 },
    loaded: { concurrency: 50, answers: 500 },
    relay: { concurrency: 50, answers: 200, tokens: 200 },
    hold: { streams: 9000, openPerSecond: 250 },
    growth: { sizes: [10, 100, 1000], samples: 5, reads: 20 },
    stageSamples: 50,
    backupStoreMB: 1024,
    minutes: 20,
  },
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean" },
      json: { type: "string" },
      profile: { type: "string" },
      heap: { type: "string" },
      "skip-deploy": { type: "boolean" },
      "backup-store-mb": { type: "string" },
    },
  });
  const profileDir = values.profile ? resolve(values.profile) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const heapDir = values.heap ? resolve(values.heap) : undefined;
  if (heapDir) mkdirSync(heapDir, { recursive: true });
  const mode = values.quick ? "quick" : "full";
  const settings = MODES[mode];
  // Every measure stops starting new work at its share of the run's bound.
  const until = (minutes: number) => Date.now() + minutes * 60_000;
  const log = (line: string) => console.error(`bench: ${line}`);
  const began = Date.now();

  log(`${mode} run: starting NATS, the fake provider, two API instances and two Caddies on loopback`);
  // A CPU profile of each API instance, written when it stops.
  let stopped = false;
  let heapSnapshots: { files: { before: string; held: string }; held: number } | undefined;
  const platform = await startPlatform([
    ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
    // Heap snapshots on a signal, while streams are held (they pause the instance: not for headline figures).
    ...(heapDir ? ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${heapDir}`] : []),
  ]);
  try {
    log(`time to first token at ${settings.latency.concurrency} streams`);
    const low = await latency(platform, { ...settings.latency, deadline: until(settings.minutes / 8) });
    log("time to first token, one stream at a time (what the path adds without queueing)");
    const single = await latency(platform, { ...settings.single, deadline: until(settings.minutes / 16) });
    log("the API's steps before the first token, one by one");
    const stageTimes = await stages(platform, settings.stageSamples);
    log(`time to first token under load (${settings.loaded.concurrency} streams)`);
    const loaded = await latency(platform, { ...settings.loaded, deadline: until(settings.minutes / 8) });
    log(`relay capacity (${settings.relay.concurrency} streams of ${settings.relay.tokens} tokens)`);
    const storedBefore = await jetStreamBytes(platform);
    const relayed = await relay(platform, { ...settings.relay, deadline: until(settings.minutes / 6) });
    const storedBytes = (await jetStreamBytes(platform)) - storedBefore;
    const backupStoreMB = Number(values["backup-store-mb"] ?? settings.backupStoreMB);
    log(`backup and restore of a ${backupStoreMB} MB store through an SSH tunnel, against plain copies (a local sshd)`);
    const backupSpeed = await backupThroughput({ storeBytes: backupStoreMB * 1e6, log });
    log(`cost growth (conversations of ${settings.growth.sizes.join(", ")} messages)`);
    const grown = await growth(platform, { ...settings.growth, deadline: until(settings.minutes / 4) });
    log(`holding ${settings.hold.streams} slow streams through Caddy`);
    const held = await holdStreams(platform, {
      ...settings.hold,
      deadline: until(settings.minutes / 3),
      heapDir,
    });
    await platform.stop();
    stopped = true;
    if (held.heapSnapshots) heapSnapshots = { files: held.heapSnapshots, held: held.held };
    // The deploy runs on the production compose stack (Docker): the full run only.
    const deploy =
      mode === "full" && !values["skip-deploy"]
        ? await deployCost({
            dir: join(ROOT, ".tmp/bench-local"),
            log,
            deploys: deployCount(process.env.BENCH_DEPLOYS, 1),
          })
        : undefined;

    const headline: Headline = {
      ttft_added_p50_ms: round(low.full.ttftMs.p50 - low.direct.ttftMs.p50),
      ttft_added_p99_ms: round(low.full.ttftMs.p99 - low.direct.ttftMs.p99),
      relay_ratio_vs_caddy: round(relayed.full.eventsPerSecond / relayed.proxy.eventsPerSecond, 3),
      streams_held: held.held,
      stream_errors:
        held.errors +
        low.full.errors +
        single.full.errors +
        loaded.full.errors +
        relayed.full.errors +
        (held.attempted - held.held - held.errors),
      rss_per_stream_kb: held.rssPerStreamKb,
      history_growth_ratio: grown.historyGrowthRatio,
      answer_length_ratio: grown.answerLengthRatio,
    };
    const results = {
      mode,
      ...headline,
      ttft_added_single_stream_p50_ms: round(single.full.ttftMs.p50 - single.direct.ttftMs.p50),
      ttft_added_single_stream_p99_ms: round(single.full.ttftMs.p99 - single.direct.ttftMs.p99),
      ttft_added_under_load_p50_ms: round(loaded.full.ttftMs.p50 - loaded.direct.ttftMs.p50),
      ttft_added_under_load_p99_ms: round(loaded.full.ttftMs.p99 - loaded.direct.ttftMs.p99),
      gap_added_p50_ms: round(low.full.gapMs.p50 - low.direct.gapMs.p50),
      gap_added_p99_ms: round(low.full.gapMs.p99 - low.direct.gapMs.p99),
      relay_ratio_vs_direct: round(relayed.full.eventsPerSecond / relayed.direct.eventsPerSecond, 3),
      jetstream_bytes_per_token: round(storedBytes / relayed.full.tokens, 1),
      history_sizes: settings.growth.sizes,
      ttft_stages_p50_ms: stageTimes,
      backup_mb_per_s: backupSpeed.backupMBps,
      backup_encrypted_mb_per_s: backupSpeed.encryptedBackupMBps,
      backup_copy_mb_per_s: backupSpeed.copyDownMBps,
      restore_mb_per_s: backupSpeed.restoreMBps,
      restore_copy_mb_per_s: backupSpeed.copyUpMBps,
      backup_bytes: backupSpeed.bytes,
      ...(deploy
        ? {
            deploy_app_seconds: deploy.appDeploySeconds,
            deploy_reapply_seconds: deploy.reapplySeconds,
            deploy_failed_requests: deploy.failedRequests,
            deploy_cut_streams: deploy.cutStreams,
          }
        : {}),
      machine: {
        cores: cpus().length,
        memoryBytes: totalmem(),
        cpuModel: cpus()[0]?.model ?? "unknown",
        node: process.version,
      },
      baselines: {
        direct: { latency: low.direct, loaded: loaded.direct, relay: relayed.direct },
        proxy: { latency: low.proxy, loaded: loaded.proxy, relay: relayed.proxy },
      },
      full: { latency: low.full, loaded: loaded.full, relay: relayed.full, concurrency: held, growth: grown, deploy },
      seconds: round((Date.now() - began) / 1000, 1),
    };

    const rows: Array<[string, string, string]> = [["measure", "value", "target"]];
    for (const v of verdicts(headline))
      rows.push([v.key, String(v.value), `${v.target} ${v.met ? "met" : `MISSED (${v.miss})`}`]);
    rows.push([
      "relay events/s direct, Caddy, full",
      `${relayed.direct.eventsPerSecond}, ${relayed.proxy.eventsPerSecond}, ${relayed.full.eventsPerSecond}`,
      "",
    ]);
    rows.push([
      "CPU s per 1,000 events Caddy, full",
      `${relayed.proxy.cpuSecondsPer1000Events}, ${relayed.full.cpuSecondsPer1000Events}`,
      "",
    ]);
    rows.push([
      "TTFT p50/p99 ms one stream at a time: direct, Caddy, full",
      [single.direct, single.proxy, single.full].map((p) => `${p.ttftMs.p50}/${p.ttftMs.p99}`).join(", "),
      "",
    ]);
    rows.push([
      "TTFT p50/p99 ms direct, Caddy, full",
      [low.direct, low.proxy, low.full].map((p) => `${p.ttftMs.p50}/${p.ttftMs.p99}`).join(", "),
      "",
    ]);
    rows.push(["JetStream bytes per token", String(results.jetstream_bytes_per_token), ""]);
    for (const [what, speed, copy] of [
      ["backup", backupSpeed.backupMBps, backupSpeed.copyDownMBps],
      ["restore", backupSpeed.restoreMBps, backupSpeed.copyUpMBps],
    ] as const)
      rows.push([
        `${what} MB/s: via SSH tunnel, plain copy`,
        `${speed}, ${copy} (${round(backupSpeed.bytes / 1e6, 1)} MB)`,
        `half the copy ${speed >= copy / 2 ? "met" : "MISSED"}`,
      ]);
    rows.push(["  backup MB/s encrypted (age) as written", String(backupSpeed.encryptedBackupMBps), ""]);
    for (const [stage, ms] of Object.entries(stageTimes))
      rows.push([`  before a first token: ${stage}`, `${ms} ms`, ""]);
    if (deploy) {
      const clean = deploy.failedRequests === 0 && deploy.cutStreams === 0;
      rows.push([
        "deploy: failed requests, cut streams",
        `${deploy.failedRequests}, ${deploy.cutStreams} (of ${deploy.requestsDuring} requests, ${deploy.answersDuring} answers, ${deploy.deploys} deploys)`,
        `0, 0 ${clean ? "met" : "MISSED"}`,
      ]);
      for (const how of deploy.cutHow) rows.push(["  a cut stream", how, ""]);
      rows.push([
        "deploy seconds: app-only, no-change re-apply",
        `${deploy.appDeploySeconds}, ${deploy.reapplySeconds}`,
        "",
      ]);
    }
    console.log(table(rows));
    console.log(
      `${mode} run, ${results.seconds} s on ${results.machine.cores} cores (${results.machine.cpuModel}), ${round(results.machine.memoryBytes / 2 ** 30, 1)} GiB`,
    );
    if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    if (!stopped) await platform.stop();
  }
  if (heapSnapshots) {
    // Caddy spreads streams evenly (least_conn): the first instance held about half.
    const streams = Math.max(1, Math.round(heapSnapshots.held / 2));
    const growth = heapGrowthPerStream(heapSnapshots.files.before, heapSnapshots.files.held, streams);
    console.log(
      `\nAPI heap growth per held stream (one instance, ~${streams} streams): ${round(growth.total / 1024, 1)} KB`,
    );
    console.log(table(growth.rows.map((r) => [r.name, `${r.bytesPerStream} B`, `${r.countPerStream} objects`])));
  }
  if (profileDir) {
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"))) {
      const { byOwner, byFunction } = summarize(join(profileDir, file), BUNDLE);
      console.log(`\nAPI CPU profile ${file}: share of its busy time by package (or app folder)`);
      console.log(table(byOwner.map((s) => [s.name, `${s.percent}%`, ""])));
      console.log("by function");
      console.log(table(byFunction.map((s) => [s.name, `${s.percent}%`, ""])));
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
