// Data-request admission against a real database and audit writer: a token of another tenant
// is audited in the addressed tenant's log, then 403; a locked tenant 423; a tenant without a
// validated key 409 tenant_not_ready; only a service token is admitted at all.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Caller } from "@/lib/auth/caller";
import { AuditWriter } from "@/lib/audit/writer";
import { ClusterBus } from "@/lib/broker/cluster-bus";
import { DekCache } from "@/lib/broker/dek-cache";
import { BrokerError } from "@/lib/broker/errors";
import { KmsMetrics } from "@/lib/broker/metrics";
import { admitDataRequest, type AdmissionDeps } from "@/lib/broker/operations/data-admission";
import { systemClock } from "@/lib/broker/clock";
import { GovernanceStore } from "@/lib/broker/governance/policy-store";
import { TenantLockService } from "@/lib/broker/tenant-lock";
import { TenantRegistry } from "@/lib/broker/tenant-registry";
import { openDatabase, type Database } from "@/lib/db/database";
import { migrate } from "@/lib/db/migrate";
import { createTestDatabase, type TestDatabase } from "../../testkit/postgres";

let tdb: TestDatabase;
let db: Database;
let audit: AuditWriter;
let deps: AdmissionDeps;
const ids: Record<string, string> = {};

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = await openDatabase({ databaseUrl: tdb.url });
  await migrate(db);
  audit = new AuditWriter(db);
  const registry = new TenantRegistry(db);
  const cache = new DekCache({ ttlMs: 60_000, maxUses: 1e9, maxEntries: 10 });
  const metrics = new KmsMetrics();
  // Not started: a bus that is not listening makes admission read each tenant fresh.
  const bus = new ClusterBus(db, "admission-test");
  deps = { audit, metrics, registry, cache, bus, locks: new TenantLockService(db, registry, cache, bus, audit, metrics), governance: new GovernanceStore(db), clock: systemClock };
  for (const [slug, state] of [["active", "active"], ["locked", "locked"], ["pending", "pending"], ["other", "active"]] as const) {
    const t = await db.prisma.tenant.create({ data: { slug: `adm-${slug}`, name: slug, state, lockReason: state === "locked" ? "kill_switch: test" : null, lockSource: state === "locked" ? "kill_switch" : null } });
    ids[slug] = t.id;
    if (state !== "pending") {
      await db.query(`INSERT INTO key_connection (id, tenant_id, provider, key_ref, status) VALUES (gen_random_uuid(), $1, 'aws', 'arn:aws:kms:us-east-1:111122223333:key/test', 'connected')`, [t.id]);
    }
  }
}, 60_000);

afterAll(async () => {
  await audit?.close();
  await db?.close();
  await tdb?.drop();
});

const service = (tenant: string): Caller => ({ kind: "service", tokenId: "00000000-0000-4000-8000-000000000001", tokenName: "svc", tenantId: ids[tenant]! });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "admitted";
  } catch (e) {
    if (e instanceof BrokerError) return e.code;
    throw e;
  }
}

async function refusals(tenant: string, requestId: string) {
  return db.query<{ outcome: string; reason: string | null; action: string }>(`SELECT outcome, reason, action FROM audit_event WHERE tenant_id = $1 AND request_id = $2`, [ids[tenant], requestId]);
}

describe("admitDataRequest", () => {
  test("the tenant's own token on an active tenant with a key is admitted", async () => {
    const r = await admitDataRequest(deps, service("active"), "adm-active", "encrypt", "req-ok", undefined);
    expect(r.tenant.id).toBe(ids.active);
    expect(r.actor).toMatchObject({ type: "service_token", name: "svc" });
  });

  test("a token of another tenant is recorded in the addressed tenant's log, then forbidden", async () => {
    expect(await code(admitDataRequest(deps, service("other"), "adm-active", "decrypt", "req-cross", "billing"))).toBe("forbidden");
    expect(await refusals("active", "req-cross")).toEqual([{ outcome: "denied", reason: "token_of_another_tenant", action: "decrypt" }]);
  });

  test("a locked tenant is recorded as locked, then tenant_locked", async () => {
    expect(await code(admitDataRequest(deps, service("locked"), "adm-locked", "encrypt", "req-locked", undefined))).toBe("tenant_locked");
    expect(await refusals("locked", "req-locked")).toEqual([{ outcome: "locked", reason: "kill_switch: test", action: "encrypt" }]);
  });

  test("a pending tenant (no validated key) is recorded as denied, then tenant_not_ready", async () => {
    expect(await code(admitDataRequest(deps, service("pending"), "adm-pending", "encrypt", "req-pending", undefined))).toBe("tenant_not_ready");
    expect(await refusals("pending", "req-pending")).toEqual([{ outcome: "denied", reason: "tenant_not_ready", action: "encrypt" }]);
  });

  test("an unknown tenant is tenant_not_found; the admin token and console users are not admitted at all", async () => {
    expect(await code(admitDataRequest(deps, service("active"), "adm-nobody", "encrypt", "req-none", undefined))).toBe("tenant_not_found");
    expect(await code(admitDataRequest(deps, { kind: "admin" }, "adm-active", "encrypt", "req-admin", undefined))).toBe("forbidden");
    const consoleAdmin: Caller = { kind: "console", userId: "u", email: "a@x.example", role: "tenant_admin", tenantId: ids.active!, tenantSlug: "adm-active", authTime: Date.now() };
    expect(await code(admitDataRequest(deps, consoleAdmin, "adm-active", "decrypt", "req-console", undefined))).toBe("forbidden");
  });
});
