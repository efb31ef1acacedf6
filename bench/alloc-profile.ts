// Development aid (not part of `npm run bench`): where the broker allocates on the decrypt path.
// Starts one broker (audit on) with the inspector, drives the throughput scenario's decrypt load
// (PROF_TARGET=batch: batches of 100 x 1 KiB) and samples every allocation, including objects
// the young and old generation collections freed (V8's sampling heap profiler otherwise keeps
// only survivors). Prints bytes allocated per request by allocating function, heaviest first.
// Run: npx tsx bench/alloc-profile.ts
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";
import { freePort } from "./lib/proc";
import { readyTenant, Stack } from "./lib/stack";

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

async function inspector(port: number) {
  const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const ws = new WebSocket(target!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
    if (msg.id !== undefined) pending.get(msg.id)?.(msg.result);
  };
  return {
    call: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

async function main() {
  const stack = await Stack.start();
  try {
    const db = await stack.database();
    const port = await freePort();
    const broker = await stack.broker(db.url, { BROKER_AUDIT: "on", BROKER_INSTANCE_ID: "alloc" }, [`--inspect=127.0.0.1:${port}`]);
    const tenant = await readyTenant(stack, broker.api, "alloc", "aws");
    const r = await broker.api.encrypt(tenant.slug, tenant.token, randomBytes(1024));
    const ciphertext: string = r.body.ciphertext;
    const batch = process.env.PROF_TARGET === "batch";
    const opts = {
      url: `${broker.url}/api/v1/tenants/${tenant.slug}/decrypt${batch ? "/batch" : ""}`,
      method: "POST" as const,
      headers: { "content-type": "application/json", authorization: `Bearer ${tenant.token}` },
      body: JSON.stringify(batch ? { items: Array.from({ length: 100 }, () => ({ ciphertext })) } : { ciphertext }),
      connections: 64,
    };
    await autocannon({ ...opts, duration: 2 });
    const insp = await inspector(port);
    await insp.call("HeapProfiler.enable");
    await insp.call("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    const run = await autocannon({ ...opts, duration: Number(process.env.PROF_SECONDS ?? 4) });
    const { profile } = (await insp.call("HeapProfiler.stopSampling")) as { profile: { head: SamplingNode } };
    insp.close();
    const perUnit = run["2xx"] * (batch ? 100 : 1);
    const self = new Map<string, number>();
    let total = 0;
    const walk = (n: SamplingNode) => {
      const f = n.callFrame;
      const key = `${f.functionName || "(anonymous)"} ${f.url.replace(/.*node_modules\//, "").replace(/.*\/work\/[^/]+\//, "")}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + n.selfSize);
      total += n.selfSize;
      n.children.forEach(walk);
    };
    walk(profile.head);
    console.log(`${perUnit} ${batch ? "items" : "requests"}; ${Math.round(total / perUnit)} bytes allocated per ${batch ? "item" : "request"} (sampled)`);
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROF_TOP ?? 40))) console.log(`${String(Math.round(v / perUnit)).padStart(7)} B  ${k}`);
  } finally {
    await stack.close();
  }
}
main().then(() => process.exit(0), (e) => (console.error(e), process.exit(1)));
