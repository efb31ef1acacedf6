// Scenario: the TypeScript client's coalescer. The same closed-loop load (CALLERS concurrent callers,
// each decrypting 1 KiB and calling again as soon as it has its answer) sent through
// @cmek-broker/client as single calls (keep-alive agent, 64 sockets) and with the coalescer, which
// merges the calls of one turn of the event loop into batch requests. Items per second, ratio, and
// each call's latency. The load generator is the client itself, in this process.
import { randomBytes } from "node:crypto";
import { BrokerClient, NotFoundError } from "@cmek-broker/client";
import { ms, ratio, type Mode, type Section } from "./lib/report";
import { readyTenant, type Stack } from "./lib/stack";
import { percentile, round } from "./lib/stats";

const CALLERS = 256;

interface Run {
  items: number;
  failed: number;
  seconds: number;
  latencies: number[];
  batches: number | null;
}

async function closedLoop(client: BrokerClient, ciphertext: string, seconds: number): Promise<Run> {
  const until = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let failed = 0;
  let firstError: unknown;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        try {
          await client.decrypt(ciphertext);
          latencies.push(performance.now() - t0);
        } catch (e) {
          failed++;
          firstError ??= e;
          if (e instanceof NotFoundError) return;
        }
      }
    }),
  );
  if (firstError instanceof NotFoundError) throw firstError;
  return { items: latencies.length, failed, seconds: (performance.now() - started) / 1000, latencies, batches: client.coalescerStats()?.decrypt.batches ?? null };
}

export async function clientCoalescer(stack: Stack, mode: Mode): Promise<Section> {
  const seconds = mode.quick ? 3 : 10;
  const db = await stack.database();
  const broker = await stack.broker(db.url, { BROKER_INSTANCE_ID: "client" });
  const t = await readyTenant(stack, broker.api, "bench-client", "aws");
  const base = { baseUrl: broker.url, tenant: t.slug, token: t.token, maxSockets: 64, timeoutMs: 30_000 };
  const single = new BrokerClient(base);
  const coalesced = new BrokerClient({ ...base, coalesce: { maxItems: 100 } });
  const ciphertext = await single.encrypt(randomBytes(1024));
  const rows: Section["rows"] = [];
  const rounds = mode.quick ? 1 : 3;
  const data: Record<string, unknown> = { callers: CALLERS, seconds, rounds };
  const merge = (a: Run | null, b: Run): Run => (a ? { items: a.items + b.items, failed: a.failed + b.failed, seconds: a.seconds + b.seconds, latencies: a.latencies.concat(b.latencies), batches: (a.batches ?? 0) + (b.batches ?? 0) } : b);
  try {
    // Warm both (DEK cached, connections open) before measuring.
    await closedLoop(single, ciphertext, 1);
    let batchEndpoints = true;
    try {
      await closedLoop(coalesced, ciphertext, 1);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      batchEndpoints = false;
    }
    // Rounds alternate the two ways, so a change in the machine's load falls on both alike.
    let s: Run | null = null;
    let c: Run | null = null;
    const ratios: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const sr = await closedLoop(single, ciphertext, seconds / rounds);
      s = merge(s, sr);
      if (!batchEndpoints) continue;
      const before = coalesced.coalescerStats()!.decrypt.batches;
      const cr = await closedLoop(coalesced, ciphertext, seconds / rounds);
      cr.batches = cr.batches! - before;
      c = merge(c, cr);
      ratios.push(cr.items / cr.seconds / (sr.items / sr.seconds));
    }
    const sRate = s!.items / s!.seconds;
    rows.push([`single calls, ${CALLERS} callers, 1 KiB decrypt: items/s`, `${round(sRate, 0)} (p50 ${ms(percentile(s!.latencies, 50))}, p99 ${ms(percentile(s!.latencies, 99))})`]);
    if (c) {
      const cRate = c.items / c.seconds;
      rows.push(["coalesced (batches of up to 100): items/s", `${round(cRate, 0)} (p50 ${ms(percentile(c.latencies, 50))}, p99 ${ms(percentile(c.latencies, 99))})`]);
      rows.push(["ratio coalesced / single", `${round(ratio(cRate, sRate), 2)} (per round: ${ratios.map((r) => round(r, 2)).join(", ")})`]);
      rows.push(["  items per batch request (mean)", `${round(c.items / Math.max(1, c.batches ?? 1), 1)}`]);
    } else rows.push(["coalesced", "n/a: this broker has no batch endpoints"]);
    rows.push(["  failed calls (single / coalesced)", `${s!.failed} / ${c?.failed ?? "n/a"}`]);
    Object.assign(data, { single: { items: s!.items, seconds: s!.seconds, failed: s!.failed }, coalesced: c && { items: c.items, seconds: c.seconds, failed: c.failed, batches: c.batches }, ratios });
  } finally {
    await single.close();
    await coalesced.close();
    await broker.stop();
  }
  return {
    title: "7. TypeScript client: coalescer vs single calls (@cmek-broker/client)",
    rows,
    notes: [`${CALLERS} concurrent callers in a closed loop for ${seconds} s each way (${rounds} alternating rounds), in the bench process (the client's own CPU counts); one broker child with auditing on.`],
    data,
  };
}
