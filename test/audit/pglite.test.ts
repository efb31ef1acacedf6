// The embedded database (npm start without DATABASE_URL) runs the same audit code.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { openDatabase, type Database } from "../../lib/db/database";
import { migrate } from "../../lib/db/migrate";
import { AuditWriter } from "../../lib/audit/writer";
import { CheckpointScheduler, listCheckpoints } from "../../lib/audit/checkpoints";
import { verifyExport, verifyTenantChain } from "../../lib/audit/verify";
import { exportTenantAudit } from "../../lib/audit/export";
import { listAuditEvents } from "../../lib/audit/query";
import { pruneTenantAudit } from "../../lib/audit/retention";
import { getPublicKey } from "../../lib/audit/signing";
import { sampleEntry } from "./helpers";

let db: Database;
beforeAll(async () => {
  db = await openDatabase({ pgliteDir: "memory://" });
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
});

describe("audit on PGlite", () => {
  it("writes batched chains, checkpoints, lists, exports, prunes and verifies", async () => {
    const writer = new AuditWriter(db);
    const cps = new CheckpointScheduler(db, writer, { everyEntries: 100 });
    cps.start();
    const tenants = [randomUUID(), randomUUID()];
    await Promise.all(
      Array.from({ length: 600 }, (_, i) => writer.record({ ...sampleEntry(tenants[i % 2]!, i), time: new Date(Date.UTC(2026, 0, 1 + Math.floor(i / 100))) })),
    );
    await cps.checkpointAll();
    await cps.stop();
    expect(writer.stats().batches).toBeLessThan(600);
    for (const tenant of tenants) expect(await verifyTenantChain(db, tenant)).toMatchObject({ ok: true, count: 300 });
    expect((await listCheckpoints(db, tenants[0]!)).length).toBeGreaterThan(0);

    const page = await listAuditEvents(db, tenants[0]!, {}, { limit: 10 });
    expect(page.events.map((e) => e.seq)).toEqual([300, 299, 298, 297, 296, 295, 294, 293, 292, 291]);
    expect(page.nextCursor).toBeTruthy();

    expect(await pruneTenantAudit(db, tenants[0]!, new Date(Date.UTC(2026, 0, 3)))).toMatchObject({ pruned: 100, beforeSeq: 101 });
    await writer.record(sampleEntry(tenants[0]!, 1000));
    expect(await verifyTenantChain(db, tenants[0]!)).toMatchObject({ ok: true, count: 201, firstSeq: 101 });

    const lines: string[] = [];
    for await (const chunk of exportTenantAudit(db, tenants[0]!, "jsonl", {}, { pageSize: 50 })) lines.push(...chunk.split("\n").filter(Boolean));
    expect(await verifyExport(lines, [await getPublicKey(db)])).toMatchObject({ ok: true, count: 201, signedThroughSeq: 301 });

    await expect(db.query(`DELETE FROM audit_event WHERE tenant_id = $1`, [tenants[1]])).rejects.toThrow(/append-only/);
    await writer.close();
  });
});
