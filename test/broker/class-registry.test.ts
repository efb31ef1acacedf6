// The registry's view of a tenant's data classes on real PostgreSQL: a class_state notification
// applies only when newer, and a load that read the database before a class's lock was applied
// (a slower load racing the notification) must not bring the class back to its older state.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openDatabase, type Database } from "@/lib/db/database";
import { migrate } from "@/lib/db/migrate";
import { TenantRegistry } from "@/lib/broker/tenant-registry";
import { createTestDatabase, type TestDatabase } from "@/testkit/postgres";

let pg: TestDatabase;
let db: Database;
let tenantId: string;
let classId: string;

beforeAll(async () => {
  pg = await createTestDatabase();
  db = await openDatabase({ databaseUrl: pg.url });
  await migrate(db);
  const t = await db.prisma.tenant.create({ data: { slug: "reg-classes", name: "reg" } });
  tenantId = t.id;
  classId = (await db.prisma.dataClass.create({ data: { tenantId, name: "pii", state: "active" } })).id;
});

afterAll(async () => {
  await db?.close();
  await pg?.drop();
});

describe("class state in the registry", () => {
  test("newer class states apply, older ones do not, and a stale load keeps the newer class state", async () => {
    const registry = new TenantRegistry(db);
    const view = (await registry.load({ id: tenantId }))!;
    expect(view.classes.get("pii")).toMatchObject({ id: classId, state: "active", stateVersion: 0 });
    const locked = { state: "locked" as const, stateVersion: 1, stateSince: new Date(), lockReason: "kill_switch: test", lockSource: "kill_switch" };
    expect(registry.applyClassState(tenantId, classId, locked)).not.toBeNull();
    expect(registry.applyClassState(tenantId, classId, { ...locked, state: "active", stateVersion: 1 })).toBeNull();
    expect(registry.applyClassState(tenantId, "00000000-0000-0000-0000-000000000000", { ...locked, stateVersion: 9 })).toBeNull();
    // The database still says version 0 (the row's write is not what this test is about): a load now is "slower" than the notification.
    const reloaded = (await registry.load({ id: tenantId }))!;
    expect(reloaded.classes.get("pii")).toMatchObject({ state: "locked", stateVersion: 1, lockSource: "kill_switch" });
    expect(registry.cached(tenantId)?.classes.get("pii")?.state).toBe("locked");
    // Once the database is newer, the load wins.
    await db.query(`UPDATE data_class SET state = 'active', state_version = 2, lock_reason = NULL, lock_source = NULL WHERE id = $1`, [classId]);
    expect((await registry.load({ id: tenantId }))!.classes.get("pii")).toMatchObject({ state: "active", stateVersion: 2 });
  });
});
