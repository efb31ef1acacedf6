// KMS economy of the DEK cache, counted where it costs money: at the KMS emulator.
import { afterAll, beforeAll, expect, test } from "vitest";
import { DataKeyMaterial } from "@/lib/crypto/data-key-material";
import type { BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ApiClient, startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";

let h: Harness;
let token: string;
let keyArn: string;
const SHORT_TTL_MS = 1500;

beforeAll(async () => {
  // A long TTL on the main instance: a 1,000-request burst on a loaded 2-core machine can take
  // seconds, and refresh-ahead (at 80% of the TTL) would rightly add a second unwrap.
  // The emulator shares this process's event loop with 1,000 clients: a short KMS timeout would
  // turn its slow answer into an SDK retry (a second, legitimate call at the emulator).
  h = await startHarness({ BROKER_DEK_CACHE_TTL_MS: "600000", BROKER_PROBE_INTERVAL_MS: "3600000", BROKER_KMS_TIMEOUT_MS: "10000" });
  keyArn = (await h.aws.createKeyForVendor()).keyArn;
  token = await h.api.readyTenant("cache", "aws", keyArn);
  // Probes of the key's canary also reach the KMS; these tests count the DEK cache's calls alone.
  await h.runtime.ctx.prober.stop();
});
afterAll(async () => {
  await h?.close();
});

async function shortTtlInstance(): Promise<{ rt: BrokerRuntime; api: ApiClient }> {
  const rt = await h.startInstance({ BROKER_DEK_CACHE_TTL_MS: String(SHORT_TTL_MS), BROKER_KMS_TIMEOUT_MS: "10000" });
  await rt.ctx.prober.stop();
  return { rt, api: new ApiClient(rt.url) };
}

test("1,000 concurrent decrypts on a cold DEK make exactly one unwrap at the KMS", async () => {
  const enc = await h.api.encrypt("cache", token, "cold start", { k: "v" });
  expect(enc.status).toBe(200);
  // Forget every unwrapped DEK, as after a restart: the next decrypts must go to the KMS.
  h.runtime.ctx.cache.clear();
  h.emulators.aws.calls.reset();
  const results = await Promise.all(Array.from({ length: 1000 }, () => h.api.decrypt("cache", token, enc.body.ciphertext, { k: "v" })));
  expect(results.every((r) => r.status === 200)).toBe(true);
  expect(h.emulators.aws.calls.count("Decrypt", keyArn)).toBe(1);
}, 60_000);

test("after the TTL the next use unwraps again, and the expired buffer is zero", async () => {
  const { rt, api } = await shortTtlInstance();
  const enc = await api.encrypt("cache", token, "ttl");
  rt.ctx.cache.clear();
  h.emulators.aws.calls.reset();
  expect((await api.decrypt("cache", token, enc.body.ciphertext)).status).toBe(200);
  expect(h.emulators.aws.calls.count("Decrypt", keyArn)).toBe(1);
  const cache = rt.ctx.cache as unknown as { entries: Map<string, { material: DataKeyMaterial }> };
  const buffers = [...cache.entries.values()].map((e) => DataKeyMaterial.unsafeBufferOf(e.material)!);
  expect(buffers.length).toBeGreaterThan(0);
  expect(buffers.every((b) => b.some((x) => x !== 0))).toBe(true);
  // The sweeper zeroes expired DEKs even when nobody asks for them again.
  await waitFor(() => buffers.every((b) => b.every((x) => x === 0)), { what: "the sweeper to zero the expired DEKs", timeoutMs: SHORT_TTL_MS + 3000, intervalMs: 50 });
  expect(rt.ctx.cache.size).toBe(0);
  expect(buffers.every((b) => b.every((x) => x === 0))).toBe(true);
  expect((await api.decrypt("cache", token, enc.body.ciphertext)).status).toBe(200);
  expect(h.emulators.aws.calls.count("Decrypt", keyArn)).toBe(2);
});

test("a locked tenant's DEKs are zeroed at once", async () => {
  await h.api.encrypt("cache", token, "warm");
  const cache = h.runtime.ctx.cache as unknown as { entries: Map<string, { material: DataKeyMaterial; tenantId: string }> };
  const buffers = [...cache.entries.values()].map((e) => DataKeyMaterial.unsafeBufferOf(e.material)!);
  expect(buffers.length).toBeGreaterThan(0);
  const lock = await h.api.admin("POST", "/api/v1/tenants/cache/lock", { reason: "test" });
  expect(lock.status).toBe(200);
  expect(buffers.every((b) => b.every((x) => x === 0))).toBe(true);
  const refused = await h.api.encrypt("cache", token, "x");
  expect(refused.status).toBe(423);
  expect(refused.body.error.code).toBe("tenant_locked");
  expect(refused.body.error.reason).toMatch(/kill_switch/);
  expect((await h.api.admin("POST", "/api/v1/tenants/cache/unlock")).status).toBe(200);
  expect((await h.api.encrypt("cache", token, "x")).status).toBe(200);
});
