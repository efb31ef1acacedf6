// Load with autocannon (as a library, in this process) against servers in child processes.
// Targets are measured interleaved — round 1: A, B, C; round 2: A, B, C; ... — so that noise
// from other work on the machine falls on all of them alike; each target gets a warm-up run
// that is thrown away, every figure is the median over the rounds, and each run records how
// the cores were shared.
import autocannon from "autocannon";
import { withCpuShare } from "./proc";
import { median, round } from "./stats";

export interface Target {
  name: string;
  url: string;
  pid: number;
  path: string;
  body: string;
  headers?: Record<string, string>;
}

export interface LoadOptions {
  connections: number;
  warmupS: number;
  durationS: number;
  runs: number;
  /** Open-loop load at this many requests per second overall (latency at a given rate); unset: as fast as answers come. */
  overallRate?: number;
}

export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  /** Non-2xx answers plus socket errors and timeouts, over all measured runs. */
  errors: number;
  runsRps: number[];
  cores: { bench: number; server: number; other: number };
}

function once(t: Target, connections: number, durationS: number, overallRate?: number) {
  return autocannon({
    ...(overallRate ? { overallRate } : {}),
    url: t.url + t.path,
    method: "POST",
    headers: { "content-type": "application/json", ...t.headers },
    body: t.body,
    connections,
    pipelining: 1,
    duration: durationS,
  });
}

type Run = { r: Awaited<ReturnType<typeof once>>; cores: LoadFigures["cores"] };

export async function measureInterleaved(targets: Target[], o: LoadOptions): Promise<Map<string, LoadFigures>> {
  for (const t of targets) await once(t, o.connections, o.warmupS, o.overallRate);
  const runs = new Map<string, Run[]>(targets.map((t) => [t.name, []]));
  for (let i = 0; i < o.runs; i++) {
    for (const t of targets) {
      const { value, cores } = await withCpuShare(t.pid, () => once(t, o.connections, o.durationS, o.overallRate));
      runs.get(t.name)!.push({ r: value, cores });
    }
  }
  return new Map([...runs].map(([name, rs]) => [name, summarize(rs)]));
}

function summarize(runs: Run[]): LoadFigures {
  const m = (f: (x: Run) => number, d = 2) => round(median(runs.map(f)), d);
  return {
    rps: m((x) => x.r["2xx"] / x.r.duration, 0),
    p50: m((x) => x.r.latency.p50),
    p99: m((x) => x.r.latency.p99),
    p999: m((x) => x.r.latency.p99_9),
    errors: runs.reduce((n, x) => n + x.r.non2xx + x.r.errors + x.r.timeouts, 0),
    runsRps: runs.map((x) => Math.round(x.r["2xx"] / x.r.duration)),
    cores: { bench: m((x) => x.cores.bench), server: m((x) => x.cores.server), other: m((x) => x.cores.other) },
  };
}
