import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { AuditWriter } from "../../lib/audit/writer";
import { createCheckpoint, listCheckpoints } from "../../lib/audit/checkpoints";
import { AuditPruneRefusedError, applyRetention, pruneTenantAudit } from "../../lib/audit/retention";
import { verifyExport, verifyTenantChain } from "../../lib/audit/verify";
import { exportTenantAudit } from "../../lib/audit/export";
import { createTenant, createTestDb, sampleEntry, type TestDb } from "./helpers";

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
});
afterAll(async () => {
  await t?.drop();
});

const day = (d: number) => new Date(Date.UTC(2026, 0, d));

async function exportLines(tenant: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const chunk of exportTenantAudit(t.db, tenant, "jsonl")) lines.push(...chunk.split("\n").filter(Boolean));
  return lines;
}

describe("retention", () => {
  it("prunes old entries behind a signed checkpoint; verify and offline export verification still pass; appends continue", async () => {
    const tenant = randomUUID();
    const writer = new AuditWriter(t.db);
    for (let d = 1; d <= 10; d++) {
      await Promise.all(Array.from({ length: 30 }, (_, i) => writer.record({ ...sampleEntry(tenant, d * 100 + i), time: day(d) })));
    }
    await createCheckpoint(t.db, tenant); // a periodic checkpoint at the head (seq 300) must keep matching after the prune
    const r = await pruneTenantAudit(t.db, tenant, day(4));
    expect(r).toMatchObject({ pruned: 90, beforeSeq: 91 });
    expect(r.checkpoint).toMatchObject({ seq: 90, prunedBeforeSeq: 91 });
    const first = (await t.db.query<{ seq: string; prev_hash: string }>(`SELECT seq, prev_hash FROM audit_event WHERE tenant_id = $1 ORDER BY seq LIMIT 1`, [tenant]))[0]!;
    expect(Number(first.seq)).toBe(91);
    expect(first.prev_hash).toBe(r.checkpoint!.hash);

    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 210, firstSeq: 91, lastSeq: 300 });
    await writer.record(sampleEntry(tenant, 9999));
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 211, lastSeq: 301 });

    const lines = await exportLines(tenant);
    expect(JSON.parse(lines[1]!)).toMatchObject({ type: "checkpoint", seq: 90, prunedBeforeSeq: 91 });
    expect(await verifyExport(lines)).toMatchObject({ ok: true, count: 211, firstSeq: 91, signedThroughSeq: 301 });
    // Without the anchoring checkpoint the pruned export cannot be verified.
    expect((await verifyExport([lines[0]!, ...lines.slice(2)])).firstBadEntry).toMatchObject({ seq: 91, problem: expect.stringMatching(/no signed checkpoint/) });

    // Prune again past the earlier prune point; nothing to prune is a no-op.
    expect(await pruneTenantAudit(t.db, tenant, day(6))).toMatchObject({ pruned: 60, beforeSeq: 151 });
    expect(await pruneTenantAudit(t.db, tenant, day(6))).toMatchObject({ pruned: 0, beforeSeq: null });
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, firstSeq: 151 });
    expect(await verifyExport(await exportLines(tenant))).toMatchObject({ ok: true, firstSeq: 151, lastSeq: 301 });
    await writer.close();
  });

  it("keeps the newest entry so the chain always has a head, and appends continue after it", async () => {
    const tenant = randomUUID();
    const writer = new AuditWriter(t.db);
    await Promise.all(Array.from({ length: 5 }, (_, i) => writer.record({ ...sampleEntry(tenant, i), time: day(1) })));
    expect(await pruneTenantAudit(t.db, tenant, day(20))).toMatchObject({ pruned: 4, beforeSeq: 5 });
    await writer.record(sampleEntry(tenant, 6));
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, firstSeq: 5, lastSeq: 6 });
    expect((await listCheckpoints(t.db, tenant)).map((c) => c.seq)).toEqual([4]);
    await writer.close();
  });

  it("refuses to prune (and so erase evidence of) a tampered prefix", async () => {
    const tenant = randomUUID();
    const writer = new AuditWriter(t.db);
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer.record({ ...sampleEntry(tenant, i), time: day(1 + Math.floor(i / 10)) })));
    await writer.close();
    await t.db.transaction(async (tx) => {
      await tx.query(`ALTER TABLE audit_event DISABLE TRIGGER USER`);
      await tx.query(`UPDATE audit_event SET outcome = 'denied' WHERE tenant_id = $1 AND seq = 3`, [tenant]);
      await tx.query(`ALTER TABLE audit_event ENABLE TRIGGER USER`);
    });
    await expect(pruneTenantAudit(t.db, tenant, day(2))).rejects.toBeInstanceOf(AuditPruneRefusedError);
    expect((await verifyTenantChain(t.db, tenant)).firstBadEntry?.seq).toBe(3);
  });

  it("applyRetention uses each tenant's retention_days", async () => {
    const tenant = await createTenant(t.db);
    await t.db.query(`UPDATE tenant SET retention_days = 30 WHERE id = $1`, [tenant]);
    const writer = new AuditWriter(t.db);
    const now = new Date(Date.UTC(2026, 5, 1));
    await writer.record({ ...sampleEntry(tenant, 1), time: new Date(now.getTime() - 40 * 86_400_000) });
    await writer.record({ ...sampleEntry(tenant, 2), time: new Date(now.getTime() - 35 * 86_400_000) });
    await writer.record({ ...sampleEntry(tenant, 3), time: new Date(now.getTime() - 1 * 86_400_000) });
    await writer.close();
    const res = await applyRetention(t.db, now);
    expect(res.get(tenant)).toMatchObject({ pruned: 2, beforeSeq: 3 });
    expect(await verifyTenantChain(t.db, tenant)).toMatchObject({ ok: true, count: 1 });
  });
});
