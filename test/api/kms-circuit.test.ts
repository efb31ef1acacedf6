// In an outage, a cache miss should not wait out the KMS timeout again and again: after one
// unreachable answer the key's circuit opens and misses get 503 at once, without calling the
// KMS; it never locks, and service resumes by itself.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";

let h: Harness;
const CIRCUIT_MS = 1500;

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000", BROKER_KMS_TIMEOUT_MS: "300", BROKER_KMS_CIRCUIT_MS: String(CIRCUIT_MS) });
});
afterAll(async () => {
  await h?.close();
});

test("after an unreachable answer, misses for that key fail fast with 503 and no KMS call, then recover", async () => {
  const keyArn = (await h.aws.createKeyForVendor()).keyArn;
  const token = await h.api.readyTenant("circuit", "aws", keyArn);
  const enc = await h.api.encrypt("circuit", token, "x");
  await h.runtime.ctx.prober.stop();
  h.runtime.ctx.cache.clear();
  h.emulators.aws.faults.set({ error: "blackhole" });
  h.emulators.aws.calls.reset();

  const first = await h.api.decrypt("circuit", token, enc.body.ciphertext);
  expect(first.status).toBe(503);
  expect(first.body.error.code).toBe("kms_unavailable");
  const callsAfterFirst = h.emulators.aws.calls.count("Decrypt");
  expect(callsAfterFirst).toBeGreaterThan(0);

  const started = performance.now();
  const second = await h.api.decrypt("circuit", token, enc.body.ciphertext);
  const ms = performance.now() - started;
  expect(second.status).toBe(503);
  expect(Number(second.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  expect(ms).toBeLessThan(300);
  expect(h.emulators.aws.calls.count("Decrypt")).toBe(callsAfterFirst);
  // Audited as a refused decrypt with the reason, and no KMS call entry, since none was made.
  const entries = await h.api.admin("GET", `/api/v1/tenants/circuit/audit?requestId=${second.headers.get("x-request-id")}`);
  expect(entries.body.events.map((e: { action: string; outcome: string; reason: string }) => `${e.action}:${e.outcome}:${e.reason}`)).toEqual(["decrypt:unavailable:circuit_open"]);

  h.emulators.aws.faults.clear();
  // Waiting out the open circuit is the point: it closes by time alone, with no call let through before.
  await new Promise((r) => setTimeout(r, CIRCUIT_MS + 100));
  expect((await h.api.decrypt("circuit", token, enc.body.ciphertext)).status).toBe(200);
  const status = await h.api.admin("GET", "/api/v1/tenants/circuit/status");
  expect(status.body.state).toBe("active");
});

test("a call left hanging by the outage fails after the KMS is back, and that stale failure does not shut the key off again", async () => {
  const keyArn = (await h.aws.createKeyForVendor()).keyArn;
  const token = await h.api.readyTenant("stale-failure", "aws", keyArn);
  const enc = await h.api.encrypt("stale-failure", token, "x");
  const tenantId = (await h.api.admin("GET", "/api/v1/tenants/stale-failure")).body.tenant.id as string;
  await h.runtime.ctx.prober.stop();
  h.runtime.ctx.cache.clear();
  h.emulators.aws.faults.set({ error: "blackhole" });
  h.emulators.aws.calls.reset();

  // A cache miss whose unwrap the black hole holds, unanswered.
  const hung = h.api.decrypt("stale-failure", token, enc.body.ciphertext);
  await waitFor(() => h.emulators.aws.calls.count("Decrypt") > 0, { what: "the unwrap to reach the emulator" });
  h.emulators.aws.faults.clear();
  // The KMS answers again: a probe started now succeeds while the first call still hangs.
  expect((await h.runtime.ctx.prober.probeNow(tenantId)).outcome).toBe("success");
  const late = await hung;
  expect(late.status).toBe(503);

  // The circuit stays closed: the next miss calls the KMS and is served.
  h.runtime.ctx.cache.clear();
  const after = await h.api.decrypt("stale-failure", token, enc.body.ciphertext);
  expect(after.status).toBe(200);
});
