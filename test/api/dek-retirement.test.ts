// Each DEK is retired for new encryptions at a use limit shared by the whole cluster (blocks of
// uses reserved in the database); retired DEKs stay decryptable.
import { afterAll, beforeAll, expect, test } from "vitest";
import { DataKeyService } from "@/lib/broker/data-keys";
import { openEnvelope, readEnvelopeHeader, sealEnvelope } from "@/lib/crypto/envelope";
import { startHarness, type Harness } from "../support/broker-harness";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await h.api.readyTenant("retire", "aws", (await h.aws.createKeyForVendor()).keyArn);
});
afterAll(async () => {
  await h?.close();
});

test("a DEK is retired at its use limit and a new one takes over; old ciphertexts still decrypt", async () => {
  const broker = h.runtime.ctx;
  // Two services sharing one database, as two instances would: blocks of 2 uses, limit 4 per DEK.
  const instanceA = new DataKeyService(broker.db, broker.cache, broker.kms, 2, 4);
  const instanceB = new DataKeyService(broker.db, broker.cache, broker.kms, 2, 4);
  const tenant = (await broker.registry.getBySlug("retire"))!;
  const meta = { actor: { type: "system" as const, name: "test" } };
  const used: string[] = [];
  const sealed: Buffer[] = [];
  for (let i = 0; i < 10; i++) {
    const svc = i % 2 === 0 ? instanceA : instanceB;
    const dek = await svc.forEncrypt(tenant, meta);
    used.push(dek.dekId);
    sealed.push(sealEnvelope(dek.material, { tenantId: tenant.id, dekId: dek.dekId }, Buffer.from(`m${i}`)));
  }
  const counts = new Map<string, number>();
  for (const id of used) counts.set(id, (counts.get(id) ?? 0) + 1);
  expect([...counts.values()].every((n) => n <= 4)).toBe(true);
  expect(counts.size).toBeGreaterThanOrEqual(3);
  const rows = await broker.db.query<{ id: string; retired_at: Date | null; uses_reserved: string }>(`SELECT id, retired_at, uses_reserved::text FROM data_key WHERE tenant_id = $1`, [tenant.id]);
  expect(rows.filter((r) => r.retired_at !== null).length).toBeGreaterThanOrEqual(2);
  expect(rows.every((r) => Number(r.uses_reserved) <= 4)).toBe(true);
  broker.cache.clear();
  for (let i = 0; i < sealed.length; i++) {
    const { dekId } = readEnvelopeHeader(sealed[i]!);
    const dek = await instanceA.forDecrypt(tenant, dekId, meta);
    expect(openEnvelope(dek.material, sealed[i]!).toString()).toBe(`m${i}`);
  }
});
