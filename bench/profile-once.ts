// Development aid (not part of `npm run bench`): one broker (audit on) and the ceiling under the
// throughput scenario's decrypt load, same run, with extra node flags for the broker:
// PROF_NODE_ARGS (space-separated: --cpu-prof --cpu-prof-dir=DIR, --trace-gc; PROF_GC_LOG=file
// gets the broker's stdout). PROF_TARGET=batch sends batches of 100 x 1 KiB to the broker instead.
// Prints req/s of both and their ratio, then a broker-only run that counts CPU per request of the
// broker and of its PostgreSQL backends: CPU per request moves far less than req/s when other work
// shares the cores. Run: PROF_NODE_ARGS="--trace-gc" npx tsx bench/profile-once.ts
import { randomBytes } from "node:crypto";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import autocannon from "autocannon";
import { seal } from "./lib/aes";
import { measureInterleaved, type Target } from "./lib/load";
import { cpuSeconds, startChild } from "./lib/proc";
import { readyTenant, Stack } from "./lib/stack";

const BATCH = 100;

/** CPU seconds of the PostgreSQL backends serving `dbName` (their process titles name the database). */
function pgCpuSeconds(dbName: string): number {
  let s = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.startsWith("postgres: ") && cmd.split(" ").includes(dbName)) s += cpuSeconds(Number(pid), false);
    } catch {
      /* exited */
    }
  }
  return s;
}

async function main() {
  const stack = await Stack.start();
  try {
    const db = await stack.database();
    const dbName = new URL(db.url).pathname.slice(1);
    const nodeArgs = (process.env.PROF_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const on = await stack.broker(db.url, { BROKER_AUDIT: "on", BROKER_INSTANCE_ID: "prof", BROKER_LOG_LEVEL: "warn" }, nodeArgs);
    const gcLog = process.env.PROF_GC_LOG ? createWriteStream(process.env.PROF_GC_LOG) : null;
    if (gcLog) on.proc.stdout!.pipe(gcLog);
    const tenant = await readyTenant(stack, on.api, "prof", "aws");

    const plaintext = randomBytes(1024);
    const r = await on.api.encrypt(tenant.slug, tenant.token, plaintext);
    const ciphertext: string = r.body.ciphertext;
    await on.api.decrypt(tenant.slug, tenant.token, ciphertext);
    const key = randomBytes(32);
    const ceiling = stack.track(await startChild("ceiling", process.execPath, ["--import", "tsx", "bench/ceiling-server.ts"], { BENCH_KEY_HEX: key.toString("hex") }, /ceiling listening on (\S+)/));
    const sealed = seal(key, plaintext).toString("base64");
    const batch = process.env.PROF_TARGET === "batch";
    const broker: Target = {
      name: "broker",
      url: on.url,
      pid: on.pid,
      path: `/api/v1/tenants/${tenant.slug}/decrypt${batch ? "/batch" : ""}`,
      body: JSON.stringify(batch ? { items: Array.from({ length: BATCH }, () => ({ ciphertext })) } : { ciphertext }),
      headers: { authorization: `Bearer ${tenant.token}` },
    };
    const secs = Number(process.env.PROF_SECONDS ?? 6);
    const res = await measureInterleaved([broker, { name: "ceiling", url: ceiling.url, pid: ceiling.pid, path: "/decrypt", body: JSON.stringify({ ciphertext: sealed }) }], {
      connections: 64,
      warmupS: 2,
      durationS: secs,
      runs: Number(process.env.PROF_RUNS ?? 2),
    });
    const batches = await on.metric("cmek_audit_batches_committed");
    const entries = await on.metric("cmek_audit_entries_committed");
    const b = res.get("broker")!;
    const c = res.get("ceiling")!;

    // Broker alone: CPU microseconds per request (per item for batches) of the broker and of PostgreSQL.
    const b0 = cpuSeconds(on.pid);
    const p0 = pgCpuSeconds(dbName);
    const run = await autocannon({ url: broker.url + broker.path, method: "POST", headers: { "content-type": "application/json", ...broker.headers }, body: broker.body, connections: 64, duration: Number(process.env.PROF_COST_SECONDS ?? 4) });
    const n = run["2xx"] * (batch ? BATCH : 1);
    const us = (s: number) => Math.round((s / n) * 1e6 * 10) / 10;
    console.log(
      JSON.stringify({
        broker: b.rps,
        ceiling: c.rps,
        ratio: Math.round((b.rps / c.rps) * 1000) / 1000,
        brokerRuns: b.runsRps,
        ceilingRuns: c.runsRps,
        errors: b.errors,
        cores: { broker: b.cores, ceiling: c.cores },
        auditEntries: entries,
        auditEntriesPerBatch: Math.round((entries / batches) * 10) / 10,
        [batch ? "costPerItem" : "costPerRequest"]: { brokerCpuUs: us(cpuSeconds(on.pid) - b0), postgresCpuUs: us(pgCpuSeconds(dbName) - p0), ceilingCpuUs: Math.round((c.cores.server / c.rps) * 1e6), nonOk: run.non2xx + run.errors },
      }),
    );
  } finally {
    await stack.close();
  }
}
main().then(() => process.exit(0), (e) => (console.error(e), process.exit(1)));
