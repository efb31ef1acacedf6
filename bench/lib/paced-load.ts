// Open-loop load at a fixed rate, for "latency at a given load". autocannon's rate mode cannot
// measure that: each connection sends its per-second quota back to back and then waits for the
// next second (bursts at full speed), and it corrects for coordinated omission with an expected
// interval rounded up to 1 ms, which adds synthetic samples to every response slower than 1 ms.
// Here request i is due at start + i / rate, evenly spaced; its latency runs from when it was due
// to when its response ended, so a server that falls behind is charged for the queueing it causes.
import http from "node:http";
import { percentile } from "./stats";

/** One server under load (defined here, not in load.ts, so the two modules do not import each other). */
export interface Target {
  name: string;
  url: string;
  pid: number;
  /** Further server processes behind the same URL (instances sharing a port); their CPU counts as the server's. */
  morePids?: number[];
  path: string;
  body: string;
  /** Closed-loop runs only: bodies sent in turn on each connection (instead of `body`). */
  bodies?: string[];
  headers?: Record<string, string>;
}

export interface PacedResult {
  /** Responses that completed with 2xx per second of the run. */
  rps: number;
  /** Milliseconds from each request's due time to the end of its response (2xx only). */
  latencies: number[];
  errors: number;
  /** Requests this generator sent more than 50 ms after they were due (its own event loop fell behind); non-zero makes the run suspect. */
  late: number;
}

export async function pacedRun(t: Target, rate: number, durationS: number, maxSockets = 64): Promise<PacedResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const url = new URL(t.url + t.path);
  const body = Buffer.from(t.body);
  const headers = { "content-type": "application/json", "content-length": String(body.length), ...t.headers };
  const total = Math.max(1, Math.round(rate * durationS));
  const latencies: number[] = [];
  let errors = 0;
  let late = 0;
  let sent = 0;
  let done = 0;
  const start = performance.now();
  const intervalMs = 1000 / rate;

  await new Promise<void>((resolve) => {
    const finish = () => {
      if (++done === total) resolve();
    };
    const send = (dueAt: number) => {
      const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers }, (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          if (res.statusCode! >= 200 && res.statusCode! < 300) latencies.push(performance.now() - dueAt);
          else errors++;
          finish();
        });
      });
      req.on("error", () => {
        errors++;
        finish();
      });
      // A server that stops answering ends the run with errors rather than hanging it.
      req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
      req.end(body);
    };
    const tick = () => {
      const now = performance.now();
      // Everything due by now goes out in this tick (timers fire at 1 ms granularity at best).
      while (sent < total && start + sent * intervalMs <= now) {
        const dueAt = start + sent * intervalMs;
        if (now - dueAt > 50) late++;
        sent++;
        send(dueAt);
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
    };
    tick();
  });
  const elapsedS = (performance.now() - start) / 1000;
  agent.destroy();
  return { rps: Math.round(latencies.length / elapsedS), latencies, errors, late };
}

export function latencySummary(latencies: number[]) {
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9) };
}
