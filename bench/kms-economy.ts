// Scenario 3: KMS economy, counted at the emulators. One broker with a 3 s DEK TTL and a 1 h
// probe interval: probes unwrap the canary with the same operation as DEK unwraps, so they are
// kept out of the windows and the broker's own probe counter (cmek_kms_calls_total{operation="probe"})
// is read to prove it (its delta is subtracted and printed).
import { randomBytes } from "node:crypto";
import { ms, type Mode, type Section } from "./lib/report";
import { readyTenant, type Stack } from "./lib/stack";
import { round, sleep } from "./lib/stats";
import { kmipEconomyRows } from "./lib/kmip";
import { createDataTenants, tenantTraffic } from "./lib/tenants";

const TTL_MS = 3000;

export async function kmsEconomy(stack: Stack, mode: Mode): Promise<Section> {
  const db = await stack.database();
  const noProbes = { BROKER_PROBE_INTERVAL_MS: "3600000" };
  // Instance `broker` has the short TTL; `cold` (default TTL) has never seen the DEK, so its first
  // decrypts are cold however long the burst takes on a busy machine (no expiry or refresh inside it).
  const [broker, cold] = await Promise.all([
    stack.broker(db.url, { ...noProbes, BROKER_DEK_CACHE_TTL_MS: String(TTL_MS), BROKER_INSTANCE_ID: "economy" }),
    stack.broker(db.url, { ...noProbes, BROKER_INSTANCE_ID: "economy-cold" }),
  ]);
  // Probe calls of both instances while both run, of `broker` once `cold` is stopped after (a).
  let instances = [broker, cold];
  const probes = async () => (await Promise.all(instances.map((b) => b.metric("cmek_kms_calls_total", { operation: "probe" })))).reduce((a, b) => a + b, 0);
  const rows: Section["rows"] = [];
  const data: Record<string, unknown> = { ttlMs: TTL_MS };

  // (a) 1,000 concurrent decrypts of one DEK that is not in the cache.
  const t = await readyTenant(stack, broker.api, "economy", "aws");
  const enc = await broker.api.encrypt(t.slug, t.token, randomBytes(1024));
  const ciphertext: string = enc.body.ciphertext;
  stack.resetCalls();
  const p0 = await probes();
  const started = performance.now();
  const statuses = await Promise.all(Array.from({ length: 1000 }, () => cold.api.decrypt(t.slug, t.token, ciphertext).then((r) => r.status)));
  const burstMs = performance.now() - started;
  const coldProbes = (await probes()) - p0;
  const coldUnwraps = stack.unwrapCalls("aws") - coldProbes;
  const ok = statuses.filter((s) => s === 200).length;
  const byStatus = Object.entries(statuses.reduce<Record<number, number>>((m, s) => ((m[s] = (m[s] ?? 0) + 1), m), {}))
    .map(([s, n]) => `${n} x ${s}`)
    .join(", ");
  // The broker's own view: unwrap calls through its KMS gateway by outcome, vs attempts at the emulator.
  const coldGateway = Object.fromEntries(
    await Promise.all(["success", "unavailable"].map(async (o) => [o, await cold.metric("cmek_kms_calls_total", { operation: "unwrap", outcome: o })] as const)),
  );
  await cold.stop();
  instances = [broker];
  rows.push(["cold DEK, 1,000 concurrent decrypts: unwraps at the KMS", `${coldUnwraps}`, "1"]);
  rows.push(["  answered 200 / wall time", `${ok} / ${ms(burstMs)}`]);
  rows.push(["  answers by status", byStatus]);
  rows.push(["  probe calls in that window (subtracted)", `${coldProbes}`]);
  rows.push(["  unwrap calls through the broker's KMS gateway (success / unavailable)", `${coldGateway.success} / ${coldGateway.unavailable}`]);
  Object.assign(data, { cold: { unwraps: coldUnwraps, ok, byStatus, total: statuses.length, wallMs: burstMs, probes: coldProbes, gateway: coldGateway } });

  // (b) Steady load on that one DEK (loaded into the cache first, so the window holds refreshes
  // only): refresh-ahead keeps it cached; count unwraps. 2 TTLs (full: 10, for resolution).
  const ttls = mode.quick ? 2 : 10;
  const windowS = (ttls * TTL_MS) / 1000;
  await broker.api.decrypt(t.slug, t.token, ciphertext);
  stack.resetCalls();
  const p1 = await probes();
  const steady = await tenantTraffic(broker.url, [{ ...t, ciphertext, provider: "aws" }], { connections: 8, rate: 500, durationS: windowS });
  const steadyProbes = (await probes()) - p1;
  const steadyUnwraps = stack.unwrapCalls("aws") - steadyProbes;
  rows.push([`steady load ${windowS} s (${ttls} TTLs), 1 cached DEK: unwraps`, `${steadyUnwraps}`]);
  rows.push(["  unwraps per DEK per TTL (this instance)", `${round(steadyUnwraps / ttls, 2)}`, "<= 1"]);
  rows.push(["  requests (2xx / other)", `${steady["2xx"]} / ${steady.non2xx + steady.errors}`]);
  Object.assign(data, { steady: { windowS, unwraps: steadyUnwraps, perDekPerTtl: steadyUnwraps / ttls, ok: steady["2xx"], failed: steady.non2xx + steady.errors, probes: steadyProbes } });

  // (c) Many tenants, each with traffic: all KMS calls per second over 2 TTLs, after 1 TTL of warm-up.
  const manyWindowS = (2 * TTL_MS) / 1000;
  const n = mode.quick ? 60 : 1000;
  const createdAt = performance.now();
  const tenants = await createDataTenants(stack, broker.api, n, "eco");
  const createS = (performance.now() - createdAt) / 1000;
  const rate = mode.quick ? 200 : 2000;
  const total = (manyWindowS + TTL_MS / 1000) * 1000;
  const traffic = tenantTraffic(broker.url, tenants, { connections: 16, rate, durationS: total / 1000 });
  await sleep(TTL_MS);
  stack.resetCalls();
  const p2 = await probes();
  const w0 = performance.now();
  await sleep(manyWindowS * 1000);
  const elapsedS = (performance.now() - w0) / 1000;
  const calls = stack.totalCalls();
  const manyProbes = (await probes()) - p2;
  const r = await traffic;
  const allCalls = Object.values(calls).reduce((a, b) => a + b, 0);
  // Label with the rate achieved, not the rate offered: a busy machine may not reach it.
  const achieved = r["2xx"] / r.duration;
  rows.push([`${n} tenants, ${round(achieved / n, 2)} req/s each achieved (${rate} req/s offered): KMS calls/s (all, at the emulators)`, `${round(allCalls / elapsedS, 1)}`]);
  rows.push(["  KMS calls per tenant per TTL", `${round(allCalls / n / (elapsedS / (TTL_MS / 1000)), 2)}`]);
  rows.push(["  calls by provider:operation", Object.entries(calls).map(([k, v]) => `${k} ${v}`).join(", ") || "none"]);
  rows.push(["  traffic req/s achieved (2xx / other)", `${round(achieved, 0)} / ${r.non2xx + r.errors}`]);
  Object.assign(data, { manyTenants: { n, rate, windowS: elapsedS, calls, callsPerSecond: allCalls / elapsedS, probes: manyProbes, createS, ok: r["2xx"], failed: r.non2xx + r.errors } });

  // (d) PKCS#11 (SoftHSM2): a cold DEK under a token key, many concurrent decrypts on the cold
  // instance's peer. Counted at the broker (cmek_kms_calls_total{provider="pkcs11"}): one unwrap
  // is one C_Decrypt; there is no emulator in between to count at.
  if (stack.softhsm) {
    const coldP11 = await stack.broker(db.url, { ...noProbes, BROKER_INSTANCE_ID: "economy-pkcs11-cold" });
    const pt = await readyTenant(stack, broker.api, "economy-pkcs11", "pkcs11");
    const pct: string = (await broker.api.encrypt(pt.slug, pt.token, randomBytes(1024))).body.ciphertext;
    const n11 = mode.quick ? 200 : 1000;
    const u0 = await coldP11.metric("cmek_kms_calls_total", { provider: "pkcs11", operation: "unwrap" });
    const st = await Promise.all(Array.from({ length: n11 }, () => coldP11.api.decrypt(pt.slug, pt.token, pct).then((r) => r.status)));
    const c11 = (await coldP11.metric("cmek_kms_calls_total", { provider: "pkcs11", operation: "unwrap" })) - u0;
    rows.push([`PKCS#11 (SoftHSM2) cold DEK, ${n11} concurrent decrypts: C_Decrypt calls (broker counter)`, `${c11}`, "1"]);
    const byStatus = Object.entries(st.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {}));
    rows.push(["  answers by status", byStatus.map(([s, n]) => `${s}: ${n}`).join(", ")]);
    Object.assign(data, { pkcs11Cold: { unwraps: c11, ok: st.filter((s) => s === 200).length, total: n11 } });
    await coldP11.stop();
  }
  await broker.stop();
  // The same (a) and (b) on a KMIP key (PyKMIP), counted by the broker's own KMS-call counter.
  rows.push(...(await kmipEconomyRows(stack, db.url, TTL_MS, mode)));
  return {
    title: `3. KMS economy (DEK TTL ${TTL_MS / 1000} s, refresh-ahead within min(5 s, TTL/5) of expiry)`,
    rows,
    notes: [
      "unwraps = Decrypt/unwrapkey calls counted at the emulators minus the broker's own probe-call counter over the same window (probe interval 1 h, so it is 0 unless printed otherwise).",
      `(c): ${n} tenants created through the API in ${round(createS, 1)} s (connect = wrap+unwrap validation), spread over AWS/Azure/GCP; window of 2 TTLs after 1 TTL of traffic; ${manyProbes} probe calls fell in the window.`,
    ],
    data,
  };
}
