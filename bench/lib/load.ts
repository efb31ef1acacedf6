// Load with autocannon (as a library, in this process) against servers in child processes, or,
// for latency at a fixed rate, the paced open-loop generator in paced-load.ts.
// Targets are measured interleaved — round 1: A, B, C; round 2: A, B, C; ... — so that noise
// from other work on the machine falls on all of them alike; each target gets a warm-up run
// that is thrown away, every figure is the median over the rounds, and each run records how
// the cores were shared.
import autocannon from "autocannon";
import { withCpuShare } from "./proc";
import { latencySummary, pacedRun, type Target } from "./paced-load";
import { median, round } from "./stats";

export type { Target } from "./paced-load";

export interface LoadOptions {
  connections: number;
  warmupS: number;
  durationS: number;
  runs: number;
  /** Paced open-loop load at this many requests per second overall (latency at a given rate), at most `connections` sockets; unset: closed loop, as fast as answers come. */
  overallRate?: number;
}

export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  /** Non-2xx answers plus socket errors and timeouts, over all measured runs. */
  errors: number;
  /** Paced runs only: requests the generator sent more than 50 ms late. */
  late: number;
  runsRps: number[];
  cores: { bench: number; server: number; other: number };
}

function once(t: Target, connections: number, durationS: number) {
  return autocannon({
    url: t.url + t.path,
    method: "POST",
    headers: { "content-type": "application/json", ...t.headers },
    body: t.body,
    // Several bodies: each connection sends them in turn (autocannon cycles through `requests`).
    ...(t.bodies ? { requests: t.bodies.map((body) => ({ method: "POST" as const, body })) } : {}),
    connections,
    pipelining: 1,
    duration: durationS,
  });
}

/** One measured run; the figures are the medians (or sums) of these over the rounds. */
type Run = Omit<LoadFigures, "runsRps">;

/** One run: closed loop with autocannon, or paced open loop when a rate is given (see paced-load.ts). */
async function measureOnce(t: Target, o: LoadOptions, durationS: number): Promise<Omit<Run, "cores">> {
  if (o.overallRate) {
    const r = await pacedRun(t, o.overallRate, durationS, o.connections);
    return { rps: r.rps, ...latencySummary(r.latencies), errors: r.errors, late: r.late };
  }
  const r = await once(t, o.connections, durationS);
  return { rps: r["2xx"] / r.duration, p50: r.latency.p50, p99: r.latency.p99, p999: r.latency.p99_9, errors: r.non2xx + r.errors + r.timeouts, late: 0 };
}

export async function measureInterleaved(targets: Target[], o: LoadOptions): Promise<Map<string, LoadFigures>> {
  for (const t of targets) await measureOnce(t, o, o.warmupS);
  const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
  for (let i = 0; i < o.runs; i++) {
    for (const t of targets) {
      const { value, cores } = await withCpuShare([t.pid, ...(t.morePids ?? [])], () => measureOnce(t, o, o.durationS));
      runs.get(t.name)!.push({ ...value, cores });
    }
  }
  return new Map([...runs].map(([name, rs]) => [name, summarize(rs)]));
}

function summarize(runs: Run[]): LoadFigures {
  const m = (f: (x: Run) => number, d = 2) => round(median(runs.map(f)), d);
  return {
    rps: m((x) => x.rps, 0),
    p50: m((x) => x.p50),
    p99: m((x) => x.p99),
    p999: m((x) => x.p999),
    errors: runs.reduce((n, x) => n + x.errors, 0),
    late: runs.reduce((n, x) => n + x.late, 0),
    runsRps: runs.map((x) => Math.round(x.rps)),
    cores: { bench: m((x) => x.cores.bench), server: m((x) => x.cores.server), other: m((x) => x.cores.other) },
  };
}
