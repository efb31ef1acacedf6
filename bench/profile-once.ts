// Development aid (not part of `npm run bench`): one broker (audit on) and the ceiling under the
// throughput scenario's decrypt load, same run, with NODE_OPTIONS passed to the broker
// PROF_NODE_ARGS (space-separated node flags for the broker: --cpu-prof --cpu-prof-dir=DIR, --trace-gc).
// Prints req/s of both, their ratio, and each server's CPU microseconds per request. Run: PROF_NODE_ARGS="--trace-gc" npx tsx bench/profile-once.ts
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { seal } from "./lib/aes";
import { measureInterleaved } from "./lib/load";
import { startChild } from "./lib/proc";
import { readyTenant, Stack } from "./lib/stack";

async function main() {
  const stack = await Stack.start();
  try {
    const db = await stack.database();
    const nodeArgs = (process.env.PROF_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const on = await stack.broker(db.url, { BROKER_AUDIT: "on", BROKER_INSTANCE_ID: "prof", BROKER_LOG_LEVEL: "warn" }, nodeArgs);
    // The broker's stdout (--trace-gc lines) to PROF_GC_LOG.
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
    const secs = Number(process.env.PROF_SECONDS ?? 6);
    const res = await measureInterleaved(
      [
        { name: "broker", url: on.url, pid: on.pid, path: `/api/v1/tenants/${tenant.slug}/decrypt`, body: JSON.stringify({ ciphertext }), headers: { authorization: `Bearer ${tenant.token}` } },
        { name: "ceiling", url: ceiling.url, pid: ceiling.pid, path: "/decrypt", body: JSON.stringify({ ciphertext: sealed }) },
      ],
      { connections: 64, warmupS: 2, durationS: secs, runs: Number(process.env.PROF_RUNS ?? 2) },
    );
    const b = res.get("broker")!;
    const c = res.get("ceiling")!;
    // CPU per request (the server's process tree) moves far less than req/s when other work shares the cores.
    const cpuUs = (f: typeof b) => Math.round((f.cores.server / f.rps) * 1e6);
    console.log(
      JSON.stringify({ broker: b.rps, ceiling: c.rps, ratio: b.rps / c.rps, brokerRuns: b.runsRps, ceilingRuns: c.runsRps, errors: b.errors, brokerCpuUsPerReq: cpuUs(b), ceilingCpuUsPerReq: cpuUs(c), cores: { broker: b.cores, ceiling: c.cores } }),
    );
  } finally {
    await stack.close();
  }
}
main().then(() => process.exit(0), (e) => (console.error(e), process.exit(1)));
