import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { AuditWriter } from "../../lib/audit/writer";
import { createCheckpoint } from "../../lib/audit/checkpoints";
import { verifyTenantChain } from "../../lib/audit/verify";
import { createTestDb, sampleEntry, type TestDb } from "./helpers";

let t: TestDb;
let tenant: string;

beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => {
  await t?.drop();
});

beforeEach(async () => {
  tenant = randomUUID();
  const w = new AuditWriter(t.db);
  await Promise.all(Array.from({ length: 50 }, (_, i) => w.record(sampleEntry(tenant, i + 1))));
  await w.close();
  expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 50 });
});

/** What an attacker with superuser access can do: switch the append-only triggers off. */
async function asAttacker(sql: string, params: unknown[] = []): Promise<void> {
  await t.db.transaction(async (tx) => {
    await tx.query(`ALTER TABLE audit_event DISABLE TRIGGER USER`);
    await tx.query(sql, params);
    await tx.query(`ALTER TABLE audit_event ENABLE TRIGGER USER`);
  });
}

describe("tamper evidence", () => {
  it("the append-only triggers refuse UPDATE, DELETE and TRUNCATE, and checkpoint edits", async () => {
    await expect(t.db.query(`UPDATE audit_event SET purpose = 'x' WHERE tenant_id = $1 AND seq = 3`, [tenant])).rejects.toThrow(/append-only/);
    await expect(t.db.query(`DELETE FROM audit_event WHERE tenant_id = $1 AND seq = 3`, [tenant])).rejects.toThrow(/append-only/);
    await expect(t.db.query(`TRUNCATE audit_event`)).rejects.toThrow(/append-only/);
    await createCheckpoint(t.db, tenant);
    await expect(t.db.query(`UPDATE audit_checkpoint SET hash = 'x' WHERE tenant_id = $1`, [tenant])).rejects.toThrow(/append-only/);
    await expect(t.db.query(`SELECT audit_prune($1::uuid, 60)`, [tenant])).rejects.toThrow(/no signed checkpoint/);
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 50 });
  });

  it("an edited field is named", async () => {
    await asAttacker(`UPDATE audit_event SET purpose = 'innocent' WHERE tenant_id = $1 AND seq = 17`, [tenant]);
    const v = await verifyTenantChain(t.db, tenant);
    expect(v.ok).toBe(false);
    expect(v.count).toBe(16);
    expect(v.firstBadEntry).toMatchObject({ seq: 17, problem: expect.stringMatching(/edited/) });
    expect(v.firstBadEntry?.id).toMatch(/^\d+$/);
  });

  it("an edited detail (JSON) and an edited hash are named", async () => {
    await asAttacker(`UPDATE audit_event SET detail = '{"z":2}' WHERE tenant_id = $1 AND seq = 8`, [tenant]);
    expect((await verifyTenantChain(t.db, tenant)).firstBadEntry?.seq).toBe(8);
  });

  it("a rewritten entry with a recomputed hash breaks the next link", async () => {
    await asAttacker(`UPDATE audit_event SET hash = repeat('a', 64) WHERE tenant_id = $1 AND seq = 30`, [tenant]);
    expect((await verifyTenantChain(t.db, tenant)).firstBadEntry?.seq).toBe(30);
  });

  it("a deleted row is named as the missing seq", async () => {
    await asAttacker(`DELETE FROM audit_event WHERE tenant_id = $1 AND seq = 23`, [tenant]);
    const v = await verifyTenantChain(t.db, tenant);
    expect(v.ok).toBe(false);
    expect(v.firstBadEntry).toMatchObject({ seq: 23, id: null, problem: expect.stringMatching(/missing/) });
  });

  it("deleting the first row is detected", async () => {
    await asAttacker(`DELETE FROM audit_event WHERE tenant_id = $1 AND seq = 1`, [tenant]);
    expect((await verifyTenantChain(t.db, tenant)).firstBadEntry).toMatchObject({ seq: 2, problem: expect.stringMatching(/no signed checkpoint/) });
  });

  it("deleting the newest rows is detected once a checkpoint covers them", async () => {
    await createCheckpoint(t.db, tenant);
    await asAttacker(`DELETE FROM audit_event WHERE tenant_id = $1 AND seq > 45`, [tenant]);
    expect((await verifyTenantChain(t.db, tenant)).firstBadEntry).toMatchObject({ seq: 46, problem: expect.stringMatching(/missing/) });
  });

  it("two rows with swapped seq (reordered) are named", async () => {
    // Through negative seqs, because (tenant_id, seq) is unique.
    await asAttacker(`UPDATE audit_event SET seq = -seq WHERE tenant_id = $1 AND seq IN (12, 13)`, [tenant]);
    await asAttacker(`UPDATE audit_event SET seq = CASE seq WHEN -12 THEN 13 WHEN -13 THEN 12 END WHERE tenant_id = $1 AND seq IN (-12, -13)`, [tenant]);
    const v = await verifyTenantChain(t.db, tenant);
    expect(v.ok).toBe(false);
    expect(v.firstBadEntry).toMatchObject({ seq: 12, problem: expect.stringMatching(/prev_hash/) });
  });

  it("a forged checkpoint signature is detected", async () => {
    const cp = await createCheckpoint(t.db, tenant);
    await t.db.query(`INSERT INTO audit_checkpoint (tenant_id, seq, hash, signature, key_id) VALUES ($1, 10, $2, $3, $4)`, [
      tenant,
      "b".repeat(64),
      cp!.signature,
      cp!.keyId,
    ]);
    expect((await verifyTenantChain(t.db, tenant)).firstBadEntry).toMatchObject({ seq: 10, problem: expect.stringMatching(/invalid signature/) });
  });
});
