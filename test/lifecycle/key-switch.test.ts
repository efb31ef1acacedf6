// Key switch without downtime (issue 11, items 3 and 4), through the real SDKs against the
// emulators, on PostgreSQL: the re-wrap job moves every DEK to the new key, every old
// ciphertext still decrypts, and the old key no longer matters once nothing depends on it.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";
import type { BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ApiClient } from "@/testkit/api-client";
import { awsKeyWithReEncrypt, decryptAll, lifecycle, recordsOnDistinctDeks, SteadyLoad, waitForJob } from "./helpers";

let h: Harness;
let second: BrokerRuntime;
let api2: ApiClient;

beforeAll(async () => {
  // A fast sweep and a short DEK cache, so the job starts at once and decrypts really reach the KMS.
  // A generous KMS timeout: on a loaded machine the Azure emulator's RSA unwraps can take over a second.
  h = await startHarness({ BROKER_REWRAP_SWEEP_MS: "100", BROKER_REWRAP_BATCH_SIZE: "3", BROKER_DEK_CACHE_TTL_MS: "1000", BROKER_PROBE_INTERVAL_MS: "1000", BROKER_KMS_TIMEOUT_MS: "10000" });
  // A second instance on the same PostgreSQL database: either may work the job, both serve.
  second = await h.startInstance();
  api2 = new ApiClient(second.url);
}, 60_000);

afterAll(async () => {
  await h?.close();
});

test("AWS -> AWS switch: ReEncrypt moves every DEK without the plaintext, old ciphertexts decrypt, disabling the old key changes nothing", async () => {
  const slug = "switch-aws-aws";
  const oldKey = await awsKeyWithReEncrypt(h.aws);
  const newKey = await awsKeyWithReEncrypt(h.aws);
  const token = await h.api.readyTenant(slug, "aws", oldKey);
  const records = await recordsOnDistinctDeks(h.api, h.runtime, slug, token, 7);
  h.emulators.aws.calls.reset();

  expect((await h.api.connect(slug, "aws", newKey)).status).toBe(200);
  const done = await waitForJob(h.api, slug, "completed", "the switch's re-wrap job to complete");
  expect(done.job).toMatchObject({ cause: "key_switch", rewrapped: 7, failed: 0, total: 7, percent: 100 });
  expect(done.staleDeks).toBe(0);
  const [connected, old] = done.keys;
  expect(connected).toMatchObject({ keyRef: newKey, status: "connected", deks: 7, safeToRevoke: false });
  expect(old).toMatchObject({ keyRef: oldKey, status: "replaced", deks: 0, safeToRevoke: true });
  // ReEncrypt did the work (one to move, one to verify per DEK): no Decrypt of a DEK by the job.
  expect(h.emulators.aws.calls.count("ReEncrypt")).toBe(14);

  await h.aws.disable(oldKey);
  const tenant = (await h.runtime.ctx.registry.load({ slug }))!;
  h.runtime.ctx.cache.dropTenant(tenant.id);
  expect(await decryptAll([h.api], slug, token, records)).toEqual(records.map(() => 200));
  expect((await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant.state).toBe("active");

  const audit = await h.api.admin("GET", `/api/v1/tenants/${slug}/audit?limit=200`);
  const actions = (audit.body.events as Array<{ action: string; detail: { rewrapped?: number } | null }>).map((e) => e.action);
  expect(actions).toContain("rewrap.start");
  expect(actions).toContain("rewrap.finish");
  const batches = (audit.body.events as Array<{ action: string; detail: { rewrapped: number } }>).filter((e) => e.action === "rewrap.batch");
  expect(batches.reduce((n, b) => n + b.detail.rewrapped, 0)).toBe(7);
});

test("DEKs of unknown version (null) are re-wrapped by the scheduler's own job, and the version table says what is safe to disable", async () => {
  const slug = "unknown-version";
  const key = await awsKeyWithReEncrypt(h.aws);
  const token = await h.api.readyTenant(slug, "aws", key);
  const records = await recordsOnDistinctDeks(h.api, h.runtime, slug, token, 4);
  const tenant = (await h.runtime.ctx.registry.load({ slug }))!;
  await h.runtime.db.query(`UPDATE data_key SET key_version = NULL WHERE tenant_id = $1`, [tenant.id]);
  const before = await lifecycle(h.api, slug);
  expect(before.staleDeks).toBe(4);
  expect(before.keys[0].versions).toContainEqual({ version: null, deks: 4, current: false, safeToDisable: false });

  const done = await waitForJob(h.api, slug, "completed", "the scheduler's job for version-unknown DEKs");
  expect(done.job).toMatchObject({ cause: "rotation", rewrapped: 4 });
  // The key's current version (AWS: its KeyMaterialId), as the connection records it.
  const current = (await h.runtime.db.query<{ key_version: string }>(`SELECT key_version FROM key_connection WHERE tenant_id = $1 AND status = 'connected'`, [tenant.id]))[0]!.key_version;
  expect(done.keys[0].versions).toEqual([expect.objectContaining({ version: current, deks: 4, current: true, safeToDisable: false })]);
  h.runtime.ctx.cache.dropTenant(tenant.id);
  expect(await decryptAll([h.api], slug, token, records)).toEqual(records.map(() => 200));
  // The scheduler starts one job per key version, not one per sweep.
  await new Promise((r) => setTimeout(r, 400));
  expect((await lifecycle(h.api, slug)).job.id).toBe(done.job.id);
});

test("a service token may not read the lifecycle; cancel without a job is 409; a manual re-wrap with nothing to do completes", async () => {
  const slug = "lifecycle-authz";
  const token = await h.api.readyTenant(slug, "aws", await awsKeyWithReEncrypt(h.aws));
  expect((await h.api.call("GET", `/api/v1/tenants/${slug}/lifecycle`, { token })).status).toBe(403);
  expect((await h.api.admin("POST", `/api/v1/tenants/${slug}/lifecycle/cancel`)).status).toBe(409);
  const started = await h.api.admin("POST", `/api/v1/tenants/${slug}/lifecycle/rewrap`);
  expect(started.status).toBe(200);
  await waitFor(async () => (await lifecycle(h.api, slug)).job?.state === "completed", { what: "the empty manual job to complete", timeoutMs: 10_000 });
});

const PAIRS = [
  { from: "aws", to: "gcp" },
  { from: "azure", to: "aws" },
] as const;

async function keyOf(provider: "aws" | "azure" | "gcp"): Promise<string> {
  if (provider === "aws") return awsKeyWithReEncrypt(h.aws);
  if (provider === "azure") return h.azure.createKeyForVendor();
  return h.gcp.createKeyForVendor();
}

async function revokeKey(provider: "aws" | "azure" | "gcp", key: string): Promise<void> {
  if (provider === "aws") await h.aws.disable(key);
  else if (provider === "azure") await h.azure.setEnabled(key, false);
  else await h.gcp.setVersionState(key, "DISABLED");
}

for (const { from, to } of PAIRS) {
  test(`${from} -> ${to} switch under steady load on two instances: zero failed requests; revoking the ${from} key afterwards changes nothing`, async () => {
    const slug = `switch-${from}-${to}`;
    const oldKey = await keyOf(from);
    const token = await h.api.readyTenant(slug, from, oldKey);
    const records = await recordsOnDistinctDeks(h.api, h.runtime, slug, token, 6);
    const load = new SteadyLoad([h.api, api2], slug, token, records).start(1);
    try {
      await waitFor(() => load.ok > 20, { what: "load to run before the switch", timeoutMs: 20_000 });
      const c = await h.api.connect(slug, to, await keyOf(to));
      expect(c.status).toBe(200);
      const done = await waitForJob(h.api, slug, "completed", "the switch to complete under load", 60_000);
      const okAtEnd = load.ok;
      await waitFor(() => load.ok > okAtEnd + 20, { what: "load to run after the switch", timeoutMs: 20_000 });
      expect(done.job.failed).toBe(0);
      expect(done.keys[1]).toMatchObject({ provider: from, status: "replaced", deks: 0, safeToRevoke: true });
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    await revokeKey(from, oldKey);
    for (const rt of [h.runtime, second]) rt.ctx.cache.dropTenant((await rt.ctx.registry.load({ slug }))!.id);
    expect(await decryptAll([h.api, api2], slug, token, records)).toEqual(records.map(() => 200));
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant.state).toBe("active");
  }, 120_000);
}
