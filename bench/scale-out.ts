// Decrypt throughput of one broker instance against two instances sharing one port
// (BROKER_REUSE_PORT=on: the kernel spreads connections over them), with auditing on and off,
// and the ceiling, interleaved in one run. One Node process serves requests on one core; this
// shows what the second core gives on this machine (the load generator and PostgreSQL use the
// same two cores), and what one tenant's audit chain costs when two instances append to it.
import { randomBytes } from "node:crypto";
import { seal } from "./lib/aes";
import { measureInterleaved, type LoadOptions, type Target } from "./lib/load";
import { cpuSeconds, freePort, startChild } from "./lib/proc";
import { fmtCores, ratio, type Mode, type Section } from "./lib/report";
import { readyTenant, type Broker, type Stack } from "./lib/stack";

export async function scaleOut(stack: Stack, mode: Mode): Promise<Section> {
  const load: LoadOptions = mode.quick ? { connections: 64, warmupS: 1, durationS: 2, runs: 1 } : { connections: 64, warmupS: 3, durationS: 8, runs: 3 };
  const db = await stack.database();
  const one = async (audit: "on" | "off") => stack.broker(db.url, { BROKER_INSTANCE_ID: `one-audit-${audit}`, BROKER_AUDIT: audit });
  const pair = async (audit: "on" | "off"): Promise<[Broker, Broker]> => {
    const shared = { PORT: String(await freePort()), BROKER_REUSE_PORT: "on", BROKER_AUDIT: audit };
    return [await stack.broker(db.url, { ...shared, BROKER_INSTANCE_ID: `pair-audit-${audit}-a` }), await stack.broker(db.url, { ...shared, BROKER_INSTANCE_ID: `pair-audit-${audit}-b` })];
  };
  const oneOn = await one("on");
  const oneOff = await one("off");
  const pairOn = await pair("on");
  const pairOff = await pair("off");
  const tenant = await readyTenant(stack, oneOn.api, "bench-scale-out", "aws");
  const plaintext = randomBytes(1024);
  const r = await oneOn.api.encrypt(tenant.slug, tenant.token, plaintext);
  if (r.status !== 200) throw new Error(`encrypt: ${r.status} ${JSON.stringify(r.body)}`);
  const ciphertext: string = r.body.ciphertext;
  // Each instance caches the DEK on its first decrypt (one unwrap per instance); the warm-up
  // reaches both instances of a pair, the kernel choosing one per connection.
  for (const inst of [oneOn, oneOff, pairOn[0], pairOff[0]]) {
    const first = await inst.api.decrypt(tenant.slug, tenant.token, ciphertext);
    if (first.status !== 200) throw new Error(`decrypt on ${inst.url}: ${first.status}`);
  }
  const key = randomBytes(32);
  const ceiling = stack.track(await startChild("ceiling", process.execPath, ["--import", "tsx", "bench/ceiling-server.ts"], { BENCH_KEY_HEX: key.toString("hex") }, /ceiling listening on (\S+)/));
  const path = `/api/v1/tenants/${tenant.slug}/decrypt`;
  const body = JSON.stringify({ ciphertext });
  const headers = { authorization: `Bearer ${tenant.token}` };
  const single = (name: string, b: Broker): Target => ({ name, url: b.url, pid: b.pid, path, body, headers });
  const shared = (name: string, [a, b]: [Broker, Broker]): Target => ({ name, url: a.url, pid: a.pid, morePids: [b.pid], path, body, headers });
  const targets: Target[] = [
    single("one instance, audit on", oneOn),
    shared("two instances, audit on", pairOn),
    single("one instance, audit off", oneOff),
    shared("two instances, audit off", pairOff),
    { name: "ceiling", url: ceiling.url, pid: ceiling.pid, path: "/decrypt", body: JSON.stringify({ ciphertext: seal(key, plaintext).toString("base64") }) },
  ];
  const cpu0 = pairOn.map((inst) => cpuSeconds(inst.pid));
  const res = await measureInterleaved(targets, load);
  // Metrics cannot tell a pair's instances apart (the shared port answers from either): CPU time can.
  const pairOnCpu = pairOn.map((inst, i) => cpuSeconds(inst.pid) - cpu0[i]!);
  const rps = (name: string) => res.get(name)!.rps;
  const rows: Section["rows"] = [];
  for (const [name, f] of res) {
    rows.push([`${name}: req/s`, String(f.rps)]);
    rows.push([`${name}: errors; runs req/s`, `${f.errors}; ${f.runsRps.join(", ")}`]);
    rows.push([`${name}: cores`, fmtCores(f.cores)]);
  }
  rows.push(["CPU seconds of each instance of the audit-on pair over the section", pairOnCpu.map((c) => c.toFixed(1)).join(" / ")]);
  rows.push(["ratio two instances / one, audit on (one tenant: both append to its audit chain)", ratio(rps("two instances, audit on"), rps("one instance, audit on")).toFixed(2)]);
  rows.push(["ratio two instances / one, audit off", ratio(rps("two instances, audit off"), rps("one instance, audit off")).toFixed(2)]);
  rows.push(["ratio one instance (audit on) / ceiling", ratio(rps("one instance, audit on"), rps("ceiling")).toFixed(2)]);
  rows.push(["ratio two instances (audit on) / ceiling (one process)", ratio(rps("two instances, audit on"), rps("ceiling")).toFixed(2)]);
  return {
    title: "Scale-out on one machine: decrypt 1 KiB, one tenant, cached DEK, 64 connections; one instance vs two sharing a port (BROKER_REUSE_PORT)",
    rows,
    notes: [
      `${load.runs} measured rounds of ${load.durationS} s per target, interleaved, medians. All instances share one PostgreSQL database and the cluster bus; each caches the DEK itself.`,
      "cores = this process (load generator, emulators) / the servers' processes / the rest (PostgreSQL).",
    ],
    data: Object.fromEntries(res),
  };
}
