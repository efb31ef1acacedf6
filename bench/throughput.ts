// Scenarios 1 and 2: decrypt and encrypt throughput of 1 KiB with a cached DEK, 64 connections,
// against the broker with auditing on and off, the ceiling (bare node:http, same AES-256-GCM)
// and the same decrypt as a Next.js route handler. All in this run, same load generator.
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { seal } from "./lib/aes";
import { measureInterleaved, type LoadFigures, type LoadOptions, type Target } from "./lib/load";
import { freePort, startChild } from "./lib/proc";
import { fmtCores, ms, ratio, type Mode, type Section } from "./lib/report";
import { readyTenant, type Stack } from "./lib/stack";

const NEXT_DIR = path.resolve("bench/next-route");

export async function throughput(stack: Stack, mode: Mode): Promise<Section[]> {
  const load: LoadOptions = mode.quick ? { connections: 64, warmupS: 1, durationS: 2, runs: 1 } : { connections: 64, warmupS: 3, durationS: 8, runs: 3 };
  const plaintext = randomBytes(1024);
  const plainB64 = plaintext.toString("base64");

  // Two brokers on one fresh PostgreSQL database, audit on and audit off, both running throughout.
  const db = await stack.database();
  const on = await stack.broker(db.url, { BROKER_AUDIT: "on", BROKER_INSTANCE_ID: "audit-on" });
  const off = await stack.broker(db.url, { BROKER_AUDIT: "off", BROKER_INSTANCE_ID: "audit-off" });
  const tenant = await readyTenant(stack, on.api, "bench-throughput", "aws");
  const r = await on.api.encrypt(tenant.slug, tenant.token, plaintext);
  if (r.status !== 200) throw new Error(`encrypt: ${r.status} ${JSON.stringify(r.body)}`);
  const ciphertext: string = r.body.ciphertext;
  const headers = { authorization: `Bearer ${tenant.token}` };
  const brokerTarget = (b: typeof on, name: string, op: "decrypt" | "encrypt"): Target => ({
    name,
    url: b.url,
    pid: b.pid,
    path: `/api/v1/tenants/${tenant.slug}/${op}`,
    body: JSON.stringify(op === "decrypt" ? { ciphertext } : { plaintext: plainB64 }),
    headers,
  });
  // One request each first, so the DEK is cached before the warm-up (the cold path is scenario 3).
  for (const b of [on, off]) {
    const first = await b.api.decrypt(tenant.slug, tenant.token, ciphertext);
    if (first.status !== 200) throw new Error(`decrypt: ${first.status} ${JSON.stringify(first.body)}`);
  }

  // The ceiling: same bodies, an in-memory key.
  const key = randomBytes(32);
  const sealed = seal(key, plaintext).toString("base64");
  const env = { BENCH_KEY_HEX: key.toString("hex") };
  const ceiling = stack.track(await startChild("ceiling", process.execPath, ["--import", "tsx", "bench/ceiling-server.ts"], env, /ceiling listening on (\S+)/));

  // The Next.js route handler (decrypt only).
  const nextNote = await ensureNextBuild(mode);
  let next: Target | null = null;
  if (!nextNote) {
    const port = await freePort();
    const nextBin = path.resolve("node_modules/next/dist/bin/next");
    const child = stack.track(
      await startChild("next", process.execPath, [nextBin, "start", NEXT_DIR, "-p", String(port), "-H", "127.0.0.1"], { ...env, NEXT_TELEMETRY_DISABLED: "1" }, /(Ready in)/),
    );
    next = { name: "Next.js route handler", url: `http://127.0.0.1:${port}`, pid: child.pid, path: "/api/decrypt", body: JSON.stringify({ ciphertext: sealed }) };
  }

  const figures: Record<string, Partial<Record<"decrypt" | "encrypt", LoadFigures>>> = {};
  const fixed: Record<string, Partial<Record<"decrypt" | "encrypt", LoadFigures & { rate: number }>>> = {};
  for (const op of ["decrypt", "encrypt"] as const) {
    const targets = [
      brokerTarget(on, "broker, audit on", op),
      brokerTarget(off, "broker, audit off", op),
      { name: "ceiling", url: ceiling.url, pid: ceiling.pid, path: `/${op}`, body: JSON.stringify(op === "decrypt" ? { ciphertext: sealed } : { plaintext: plainB64 }) },
      ...(next && op === "decrypt" ? [next] : []),
    ];
    for (const [name, f] of await measureInterleaved(targets, load)) (figures[name] ??= {})[op] = f;
    // At saturation, 64 closed-loop connections make latency = 64 / throughput for every server;
    // a latency goal only means something at a given load: half of what the broker (audit on)
    // served just now, offered to the broker with and without auditing and to the ceiling.
    const rate = Math.max(100, Math.round(figures["broker, audit on"]![op]!.rps / 2));
    const fixedTargets = targets.filter((t) => t.name !== "Next.js route handler");
    for (const [name, f] of await measureInterleaved(fixedTargets, { ...load, overallRate: rate })) (fixed[name] ??= {})[op] = { ...f, rate };
  }

  const sections: Section[] = [];
  for (const op of ["decrypt", "encrypt"] as const) {
    const ceil = figures.ceiling![op]!;
    const onF = figures["broker, audit on"]![op]!;
    const offF = figures["broker, audit off"]![op]!;
    const rows: Section["rows"] = [];
    for (const [name, f] of Object.entries(figures)) {
      const x = f[op];
      if (!x) continue;
      rows.push([`${name}: req/s`, `${x.rps}`]);
      rows.push([`${name}: p50 / p99 / p99.9 (saturated)`, `${ms(x.p50)} / ${ms(x.p99)} / ${ms(x.p999)}`]);
      rows.push([`${name}: errors; runs req/s`, `${x.errors}; ${x.runsRps.join(", ")}`]);
      rows.push([`${name}: cores`, fmtCores(x.cores)]);
    }
    for (const [name, f] of Object.entries(fixed)) {
      const x = f[op];
      if (!x) continue;
      rows.push([
        `${name} at ${x.rate} req/s (half the broker's throughput): p50 / p99 / p99.9`,
        `${ms(x.p50)} / ${ms(x.p99)} / ${ms(x.p999)} (served ${x.rps} req/s${x.late ? `; ${x.late} requests sent late by the generator` : ""})`,
      ]);
    }
    // Issue 14's latency goal: at the same offered rate, broker (audit on) p99 and p99.9 at most 2 x the ceiling's.
    const onFixed = fixed["broker, audit on"]?.[op];
    const ceilFixed = fixed.ceiling?.[op];
    if (onFixed && ceilFixed) {
      rows.push([`ratio p99 broker (audit on) / ceiling at ${onFixed.rate} req/s`, ratio(onFixed.p99, ceilFixed.p99).toFixed(2), "<= 2"]);
      rows.push([`ratio p99.9 broker (audit on) / ceiling at ${onFixed.rate} req/s`, ratio(onFixed.p999, ceilFixed.p999).toFixed(2), "<= 2"]);
    }
    if (op === "decrypt" && !figures["Next.js route handler"]) rows.push(["Next.js route handler", nextNote ?? "skipped"]);
    rows.push(["ratio broker (audit on) / ceiling", ratio(onF.rps, ceil.rps).toFixed(2), op === "decrypt" ? ">= 0.75" : ">= 0.6"]);
    rows.push(["ratio broker (audit off) / ceiling", ratio(offF.rps, ceil.rps).toFixed(2)]);
    rows.push(["ratio audit on / audit off", ratio(onF.rps, offF.rps).toFixed(2), ">= 0.8"]);
    const nx = figures["Next.js route handler"]?.[op];
    if (nx) rows.push(["ratio Next.js route / ceiling", ratio(nx.rps, ceil.rps).toFixed(2)]);
    sections.push({
      title: `${op === "decrypt" ? "1" : "2"}. ${op === "decrypt" ? "Decrypt" : "Encrypt"} throughput (1 KiB, cached DEK, ${load.connections} connections, PostgreSQL)`,
      rows,
      notes: [
        `${load.runs} measured rounds of ${load.durationS} s per target, targets interleaved within each round, after a ${load.warmupS} s warm-up each; medians over the rounds.`,
        "Latency at half the throughput: a paced open-loop generator (node:http, requests evenly spaced, at most 64 sockets), each latency measured from when the request was due, so queueing counts.",
        "cores = CPU used during the measured runs: this process (autocannon + the in-process emulators) / the server's process tree / the rest of the machine (PostgreSQL, other work).",
      ],
      data: {
        saturated: Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v[op] ?? null])),
        fixedRate: Object.fromEntries(Object.entries(fixed).map(([k, v]) => [k, v[op] ?? null])),
      },
    });
  }
  return sections;
}

/** Builds bench/next-route unless a build newer than its sources exists. Returns why it is skipped, or null. */
async function ensureNextBuild(mode: Mode): Promise<string | null> {
  const built = path.join(NEXT_DIR, ".next/BUILD_ID");
  const sources = ["app/api/decrypt/route.ts", "next.config.mjs"].map((f) => statSync(path.join(NEXT_DIR, f)).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs > Math.max(...sources)) return null;
  // A cold build takes ~15 s here; in --quick it gets 60 s before the route is skipped.
  const limitMs = mode.quick ? 60_000 : 600_000;
  const nextBin = path.resolve("node_modules/next/dist/bin/next");
  const child = spawn(process.execPath, [nextBin, "build", NEXT_DIR], { stdio: "ignore", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  const code = await new Promise<number | "timeout">((resolve) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      resolve("timeout");
    }, limitMs);
    child.on("exit", (c) => {
      clearTimeout(t);
      resolve(c ?? 1);
    });
  });
  if (code === "timeout") return `skipped (${mode.quick ? "quick: " : ""}next build took longer than ${limitMs / 1000} s)`;
  return code === 0 ? null : `skipped (next build failed with exit code ${code})`;
}
