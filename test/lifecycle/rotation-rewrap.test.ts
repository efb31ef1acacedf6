// Rotation end to end (issue 11), per provider through the real SDKs and the emulators' real
// rotation APIs, on PostgreSQL with two instances under steady encrypt/decrypt load: the probe
// records the new version, the scheduler's re-wrap job moves every DEK onto it, the old version is
// then disabled (Azure, GCP: one version; AWS cannot disable one key material, so every DEK is
// checked to be on the new material instead), and every old ciphertext still decrypts from a cold
// cache. Zero failed requests throughout, and the tenant never locks.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";
import { waitFor } from "../support/wait";
import type { BrokerRuntime } from "@/lib/runtime/broker-runtime";
import { ApiClient } from "@/testkit/api-client";
import { awsKeyWithReEncrypt, decryptAll, recordsOnDistinctDeks, SteadyLoad, waitForJob } from "./helpers";

let h: Harness;
let second: BrokerRuntime;
let api2: ApiClient;

beforeAll(async () => {
  h = await startHarness({
    BROKER_PROBE_INTERVAL_MS: "500",
    BROKER_REWRAP_SWEEP_MS: "200",
    BROKER_REWRAP_BATCH_SIZE: "2",
    BROKER_DEK_CACHE_TTL_MS: "1000",
    // The Azure emulator's RSA work stalls on a loaded 2-core machine.
    BROKER_KMS_TIMEOUT_MS: "10000",
  });
  second = await h.startInstance();
  api2 = new ApiClient(second.url);
}, 60_000);

afterAll(async () => {
  await h?.close();
});

interface Case {
  provider: "aws" | "azure" | "gcp";
  createKey: () => Promise<string>;
  rotate: (key: string) => Promise<string>;
  disableVersion?: (key: string, version: string) => Promise<void>;
}

const cases: Case[] = [
  { provider: "aws", createKey: () => awsKeyWithReEncrypt(h.aws), rotate: (k) => h.aws.rotateKey(k) },
  { provider: "azure", createKey: () => h.azure.createKeyForVendor("RSA"), rotate: (k) => h.azure.rotateKey(k), disableVersion: (k, v) => h.azure.setVersionEnabled(k, v, false) },
  { provider: "gcp", createKey: () => h.gcp.createKeyForVendor(), rotate: async (k) => String(await h.gcp.rotateKey(k)), disableVersion: (k, v) => h.gcp.setVersionState(k, "DISABLED", Number(v)) },
];

async function connectedVersion(slug: string): Promise<string | null> {
  const rows = await h.runtime.db.query<{ key_version: string | null }>(
    `SELECT kc.key_version FROM key_connection kc JOIN tenant t ON t.id = kc.tenant_id WHERE t.slug = $1 AND kc.status = 'connected'`,
    [slug],
  );
  return rows[0]?.key_version ?? null;
}

describe.each(cases)("$provider: rotate, re-wrap, disable the old version", (c) => {
  test("under steady load on two instances: zero failed requests, every DEK on the new version, old ciphertexts decrypt, no lock", async () => {
    const slug = `rotrw-${c.provider}`;
    const key = await c.createKey();
    const token = await h.api.readyTenant(slug, c.provider, key);
    const records = await recordsOnDistinctDeks(h.api, h.runtime, slug, token, 4);
    const v0 = await connectedVersion(slug);
    expect(v0).toBeTruthy();
    const load = new SteadyLoad([h.api, api2], slug, token, records).start(1);
    let v1: string;
    try {
      await waitFor(() => load.ok > 10, { what: "load to run before the rotation", timeoutMs: 20_000 });
      v1 = await c.rotate(key);
      await waitFor(async () => (await connectedVersion(slug)) === v1, { what: `${slug}: version ${v1} recorded`, timeoutMs: 20_000 });
      const done = await waitForJob(h.api, slug, "completed", `${slug}: the rotation's re-wrap job`, 60_000, (l) => l.staleDeks === 0);
      expect(done.job.failed).toBe(0);
      const okAtEnd = load.ok;
      await waitFor(() => load.ok > okAtEnd + 10, { what: "load to run after the job", timeoutMs: 20_000 });
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    const tenant = (await h.runtime.ctx.registry.load({ slug }))!;
    const versions = await h.runtime.db.query<{ key_version: string | null }>(`SELECT DISTINCT key_version FROM data_key WHERE tenant_id = $1`, [tenant.id]);
    expect(versions.map((v) => v.key_version)).toEqual([v1]);

    if (c.disableVersion) await c.disableVersion(key, v0!);
    for (const rt of [h.runtime, second]) rt.ctx.cache.dropTenant(tenant.id);
    expect(await decryptAll([h.api, api2], slug, token, records)).toEqual(records.map(() => 200));
    expect((await h.api.admin("GET", `/api/v1/tenants/${slug}`)).body.tenant.state).toBe("active");
    const locks = await h.runtime.db.query(`SELECT 1 FROM audit_event WHERE tenant_id = $1 AND action = 'tenant.lock'`, [tenant.id]);
    expect(locks).toEqual([]);
  }, 150_000);
});
