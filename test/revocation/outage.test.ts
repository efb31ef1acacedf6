// An outage is not a revocation. Transient faults of every kind the emulators can inject
// (latency beyond the broker's KMS timeout, 5xx, throttling, connection resets, a black hole)
// hit all three providers while tenants keep sending requests:
//   - no tenant is ever locked (tenant states and tenant_transition rows);
//   - cached DEKs keep serving until their TTL;
//   - after the TTL, requests get 503 kms_unavailable with Retry-After (never 423, never 500);
//   - the tenant's health says kms_unreachable, and recovers by itself (the prober keeps probing
//     tenants it saw unreachable) once the KMS answers again, with no traffic needed.
// The issue asks for a 30 s black hole; CI uses BLACKHOLE_MS (default 5 s, set
// CMEK_TEST_BLACKHOLE_MS=30000 for the full length): the logic does not depend on its length,
// every call in it simply times out.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { FaultConfig } from "@/emulators/faults";
import { startHarness, type Harness } from "../support/broker-harness";
import { activityReported, DecryptStream, encryptMany, printTable, sleep, waitFor, type Sample } from "./helpers";

const INTERVAL_MS = 1000;
const TTL_MS = 6000;
const KMS_TIMEOUT_MS = 400;
const BLACKHOLE_MS = Number(process.env.CMEK_TEST_BLACKHOLE_MS ?? 5000);
const MIN_FAULTS = 1000;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    BROKER_PROBE_INTERVAL_MS: String(INTERVAL_MS),
    BROKER_DEK_CACHE_TTL_MS: String(TTL_MS),
    BROKER_KMS_TIMEOUT_MS: String(KMS_TIMEOUT_MS),
    // Every request must really reach the faulted KMS here; test/api/kms-circuit.test.ts covers the circuit.
    BROKER_KMS_CIRCUIT_MS: "0",
  });
});
afterAll(async () => {
  await h?.close();
});

type Provider = "aws" | "azure" | "gcp";
const PROVIDERS: Provider[] = ["aws", "azure", "gcp"];
const KINDS: Array<{ name: string; config: FaultConfig }> = [
  { name: "server_error", config: { error: "server_error" } },
  { name: "throttle", config: { error: "throttle" } },
  { name: "reset", config: { error: "reset" } },
  { name: "latency", config: { latencyMs: KMS_TIMEOUT_MS * 4 } },
];

const callsAt = (p: Provider) => Object.values(h.emulators[p].calls.snapshot().operations).reduce((a, b) => a + b, 0);
const emulatorCalls = () => PROVIDERS.reduce((n, p) => n + callsAt(p), 0);
const setFaults = (byProvider: (p: Provider, i: number) => FaultConfig) => PROVIDERS.forEach((p, i) => h.emulators[p].faults.set(byProvider(p, i)));
const clearFaults = () => PROVIDERS.forEach((p) => h.emulators[p].faults.clear());

test("1,000+ transient faults across providers and tenants: 0 locks, cache serves within TTL, 503 + Retry-After after, recovery by itself", async () => {
  const broker = h.runtime.ctx;
  const tenants: Array<{ slug: string; provider: Provider; token: string; id: string; items: Array<{ ciphertext: string; plaintext: string }> }> = [];
  for (const provider of PROVIDERS) {
    for (let i = 0; i < 3; i++) {
      const slug = `outage-${provider}-${i}`;
      const keyId = provider === "aws" ? (await h.aws.createKeyForVendor()).keyArn : provider === "azure" ? await h.azure.createKeyForVendor() : await h.gcp.createKeyForVendor();
      const token = await h.api.readyTenant(slug, provider, keyId);
      tenants.push({ slug, provider, token, id: (await broker.registry.getBySlug(slug))!.id, items: [] });
    }
  }
  // DEKs are cached at encryption, each tenant's when its first encryption made it: every DEK
  // lives until at least TTL_MS after the loop started (`servedUntil`), and all are gone TTL_MS
  // after it ended (`cachedUntil`). On a slow machine the two are a second or more apart.
  const encryptStart = Date.now();
  for (const t of tenants) t.items = await encryptMany(h.api, t.slug, t.token, 3);
  const servedUntil = encryptStart + TTL_MS;
  const cachedUntil = Date.now() + TTL_MS;
  // The prober must see every tenant as active before the faults start.
  for (const t of tenants) await activityReported(h.runtime.db, t.slug);

  const callsBefore = emulatorCalls();
  const perProviderBefore = PROVIDERS.map(callsAt);
  const unavailableBefore = broker.prober.stats().byOutcome.unavailable;
  const streams = tenants.map((t) => new DecryptStream(h.api, t.slug, t.token, t.items, 3));
  const faultStart = Date.now();
  let step = 0;
  setFaults((_p, i) => KINDS[(step + i) % KINDS.length]!.config);
  streams.forEach((s) => s.start());

  // Phase 1 and 2: rotate fault kinds (each provider on a different one) every 1.5 s, through
  // the TTL and on until enough faults were injected.
  const kindsSeen = new Set<string>();
  let healthDuringOutage: string | undefined;
  const rotateUntil = Math.max(cachedUntil + 3000, faultStart + 6 * 1500);
  while (Date.now() < rotateUntil || emulatorCalls() - callsBefore < MIN_FAULTS) {
    PROVIDERS.forEach((p, i) => kindsSeen.add(`${p}:${KINDS[(step + i) % KINDS.length]!.name}`));
    await sleep(1500);
    if (!healthDuringOutage) {
      const st = await h.api.admin("GET", `/api/v1/tenants/${tenants[0]!.slug}/status`);
      if (st.body.health?.status === "kms_unreachable") healthDuringOutage = st.body.health.status;
    }
    step++;
    setFaults((_p, i) => KINDS[(step + i) % KINDS.length]!.config);
    if (Date.now() - faultStart > 60_000) break;
  }
  // Phase 3: the KMS stops answering at all.
  const blackholeStart = Date.now();
  setFaults(() => ({ error: "blackhole" }));
  await sleep(BLACKHOLE_MS);
  const samples = (await Promise.all(streams.map((s) => s.stop()))).flat();
  const faultEnd = Date.now();
  const faults = emulatorCalls() - callsBefore;
  const faultsByProvider = PROVIDERS.map((p, i) => `${p} ${callsAt(p) - perProviderBefore[i]!}`).join(", ");
  const probeFailures = broker.prober.stats().byOutcome.unavailable - unavailableBefore;
  const backedOff = await broker.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM key_probe WHERE consecutive_failures > 0`);
  clearFaults();
  const clearedAt = Date.now();

  // Health recovers with no traffic at all: only the prober talks to the KMS now.
  const recovered = await waitFor(async () => {
    for (const t of tenants) {
      const st = await h.api.admin("GET", `/api/v1/tenants/${t.slug}/status`);
      if (st.body.health?.status !== "ok") return undefined;
    }
    return Date.now();
  }, 4 * INTERVAL_MS + 4000, 100);
  for (const t of tenants) {
    const r = await h.api.decrypt(t.slug, t.token, t.items[0]!.ciphertext);
    expect(r.status, `${t.slug} after recovery`).toBe(200);
  }

  const withinTtl = samples.filter((s) => s.recv < servedUntil - 500);
  const afterTtl = samples.filter((s) => s.sent > cachedUntil + 1100);
  const inBlackhole = afterTtl.filter((s) => s.sent >= blackholeStart);
  const by = (xs: Sample[]) => xs.reduce<Record<string, number>>((m, s) => ((m[s.status] = (m[s.status] ?? 0) + 1), m), {});
  const locks = await broker.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tenant_transition WHERE to_state = 'locked'`);
  const states = await broker.db.query<{ state: string }>(`SELECT state FROM tenant WHERE slug LIKE 'outage-%'`);

  printTable("transient faults (all three emulators, every call faulted while active)", [
    {
      "faults injected": faults,
      "by provider": faultsByProvider,
      "fault kinds": [...kindsSeen].length,
      "black hole ms": BLACKHOLE_MS,
      requests: samples.length,
      "200 within TTL": by(withinTtl)["200"] ?? 0,
      "after TTL": JSON.stringify(by(afterTtl)),
      "in black hole": JSON.stringify(by(inBlackhole)),
      "failed probes": probeFailures,
      "keys backing off": backedOff[0]!.n,
      locks: locks[0]!.n,
      "health recovered ms": recovered ? recovered - clearedAt : null,
      "outage s": Math.round((faultEnd - faultStart) / 100) / 10,
    },
  ]);

  expect(faults).toBeGreaterThanOrEqual(MIN_FAULTS);
  expect(kindsSeen.size).toBe(PROVIDERS.length * KINDS.length);
  expect(locks[0]!.n).toBe(0);
  expect(states.map((s) => s.state)).toEqual(tenants.map(() => "active"));
  expect(withinTtl.length).toBeGreaterThan(100);
  expect(withinTtl.filter((s) => s.status !== 200 || !s.plaintextOk)).toEqual([]);
  expect(afterTtl.length).toBeGreaterThan(50);
  expect(afterTtl.filter((s) => s.status !== 503)).toEqual([]);
  expect(afterTtl.every((s) => s.retryAfter !== null && Number(s.retryAfter) > 0)).toBe(true);
  expect(inBlackhole.length).toBeGreaterThan(0);
  expect(healthDuringOutage).toBe("kms_unreachable");
  expect(probeFailures).toBeGreaterThan(0);
  expect(recovered, "health did not recover by itself").toBeDefined();
});
