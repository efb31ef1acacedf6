// Scenario 6: outage. All three emulators black-holed (requests accepted, never answered) for
// 30 s (--quick: 5 s) while decrypt loops run for one tenant per provider. DEK TTL 3 s so cached
// DEKs run out during the outage, probe interval 1 s so the prober meets the outage too.
// Figures: answers by status during the outage, locks (must be 0), and recovery after the clear.
import { randomBytes } from "node:crypto";
import { ms, type Mode, type Section } from "./lib/report";
import { readyTenant, type Stack } from "./lib/stack";
import { percentile, round, sleep } from "./lib/stats";

export async function outage(stack: Stack, mode: Mode): Promise<Section> {
  const db = await stack.database();
  const broker = await stack.broker(db.url, { BROKER_DEK_CACHE_TTL_MS: "3000", BROKER_PROBE_INTERVAL_MS: "1000" });
  const tenants = await Promise.all(
    (["aws", "azure", "gcp"] as const).map(async (p) => {
      const t = await readyTenant(stack, broker.api, `outage-${p}`, p);
      return { ...t, ct: (await broker.api.encrypt(t.slug, t.token, randomBytes(1024))).body.ciphertext as string };
    }),
  );
  const outageMs = mode.quick ? 5000 : 30_000;
  const log: Array<{ start: number; end: number; status: number }> = [];
  let running = true;
  const loops = Array.from({ length: 12 }, async (_, i) => {
    const t = tenants[i % 3]!;
    while (running) {
      const start = performance.now();
      const r = await broker.api.decrypt(t.slug, t.token, t.ct).catch(() => ({ status: 0 }));
      log.push({ start, end: performance.now(), status: r.status });
    }
  });
  await sleep(3000);
  const locks0 = await broker.metric("cmek_tenant_locks_total");
  const down = performance.now();
  for (const p of ["aws", "azure", "gcp"] as const) stack.emulators[p].faults.set({ error: "blackhole" });
  await sleep(outageMs);
  for (const p of ["aws", "azure", "gcp"] as const) stack.emulators[p].faults.clear();
  const up = performance.now();
  // Run on until every request started in the last 3 s has succeeded (or 60 s have passed).
  while (performance.now() - up < 60_000) {
    await sleep(500);
    const now = performance.now();
    const recent = log.filter((x) => x.start > now - 3000 && x.start > up);
    if (recent.length > 0 && recent.every((x) => x.status === 200) && now - up > 3000) break;
  }
  running = false;
  await Promise.all(loops);

  const during = log.filter((x) => x.end >= down && x.end < up);
  const byStatus = (xs: typeof log) => Object.entries(xs.reduce<Record<string, number>>((m, x) => ((m[x.status] = (m[x.status] ?? 0) + 1), m), {})).map(([k, v]) => `${k}: ${v}`).join(", ");
  const failed = during.filter((x) => x.status !== 200).length;
  const lastFailure = Math.max(up, ...log.filter((x) => x.status !== 200).map((x) => x.end));
  const locks = (await broker.metric("cmek_tenant_locks_total")) - locks0;
  const states = await Promise.all(tenants.map(async (t) => (await broker.api.admin("GET", `/api/v1/tenants/${t.slug}`)).body.tenant.state as string));
  await broker.stop();
  return {
    title: `6. Outage (all emulators black-holed for ${outageMs / 1000} s, 12 decrypt loops over 3 tenants, DEK TTL 3 s, probe 1 s)`,
    rows: [
      ["answers during the outage (by status)", byStatus(during)],
      ["error rate during the outage", `${round((100 * failed) / Math.max(1, during.length), 1)} %`],
      ["request latency during the outage: p50 / p99", `${ms(percentile(during.map((x) => x.end - x.start), 50))} / ${ms(percentile(during.map((x) => x.end - x.start), 99))}`],
      ["locks caused (cmek_tenant_locks_total delta)", `${locks}`, "0"],
      ["tenant states afterwards", states.join(", "), "active"],
      ["recovery: KMS back → last failed answer", ms(lastFailure - up)],
      ["answers after the KMS came back (by status)", byStatus(log.filter((x) => x.end >= up))],
    ],
    notes: ["error = any answer other than 200 (503 kms_unavailable expected); recovery counts from clearing the fault to the end of the last non-200 answer."],
    data: { outageMs, during: during.length, failed, locks, states, recoveryMs: lastFailure - up },
  };
}
