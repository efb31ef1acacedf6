// `npm run bench` (full) and `npm run bench -- --quick` (CI smoke, < 3 minutes, asserts nothing).
// Starts everything it needs itself: KMS emulators (this process), fresh PostgreSQL databases
// (testkit/postgres.ts, TEST_POSTGRES_URL), brokers and baselines as child processes.
// Prints one section per scenario and writes bench/results/latest.json. Every figure is measured
// in this run; ratios are against baselines measured in this run.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dataClasses } from "./data-classes";
import { dataPaths } from "./data-paths";
import { failover } from "./failover";
import { clientCoalescer } from "./client";
import { kmsEconomy } from "./kms-economy";
import { printSection, type Mode, type Section } from "./lib/report";
import { Stack } from "./lib/stack";
import { outage } from "./outage";
import { rewrap } from "./rewrap";
import { scale } from "./scale";
import { scaleOut } from "./scale-out";
import { throughput } from "./throughput";
import { timeToLock } from "./time-to-lock";

const SCENARIOS: Record<string, (stack: Stack, mode: Mode) => Promise<Section | Section[]>> = {
  throughput,
  "scale-out": scaleOut,
  "kms-economy": kmsEconomy,
  "time-to-lock": timeToLock,
  scale,
  outage,
  "data-paths": dataPaths,
  client: clientCoalescer,
  rewrap,
  failover,
  "data-classes": dataClasses,
};

async function main() {
  const quick = process.argv.includes("--quick");
  // `--only a,b` runs a subset (development aid); the default is every section.
  const only = process.argv.find((a, i) => process.argv[i - 1] === "--only")?.split(",");
  const mode: Mode = { quick };
  const started = Date.now();
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAvgAtStart: os.loadavg().map((x) => x.toFixed(2)).join(" ") };
  console.log(`cmek-broker benchmarks (${quick ? "quick" : "full"}) on ${machine.cpus} x ${machine.cpuModel}, ${machine.memGiB} GiB, Node ${machine.node}; load average at start ${machine.loadAvgAtStart}`);
  console.log("Load generator, emulators and this script share one process; each server under test runs in its own child process.");
  const stack = await Stack.start();
  const sections: Section[] = [];
  try {
    for (const [name, run] of Object.entries(SCENARIOS)) {
      if (only && !only.includes(name)) continue;
      const t0 = Date.now();
      const out = await run(stack, mode);
      for (const s of Array.isArray(out) ? out : [out]) {
        s.notes.push(`(section took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
        printSection(s);
        sections.push(s);
      }
      await stack.stopChildren();
    }
  } finally {
    await stack.close();
  }
  const elapsedS = Math.round((Date.now() - started) / 1000);
  console.log(`\ndone in ${elapsedS} s; load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  mkdirSync("bench/results", { recursive: true });
  const out = { date: new Date().toISOString(), mode: quick ? "quick" : "full", machine, elapsedS, sections };
  writeFileSync("bench/results/latest.json", JSON.stringify(out, null, 2) + "\n");
  console.log("wrote bench/results/latest.json");
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
