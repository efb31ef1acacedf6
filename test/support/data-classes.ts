// Data classes for data-path tests: a class row with its primary key connection written
// directly, and a class's lock state set as the lock service would (row, registry, cache).
import type { KmsProviderName } from "@/lib/kms/types";
import type { Harness } from "./broker-harness";

async function tenantIdOf(h: Harness, slug: string): Promise<string> {
  const t = await h.runtime.ctx.registry.getBySlug(slug);
  if (!t) throw new Error(`no tenant ${slug}`);
  return t.id;
}

/** Adds class `name` to the tenant with `keyRef` as its primary key (active), or with no key (pending). Returns the class id. */
export async function addClass(h: Harness, slug: string, name: string, provider: KmsProviderName | null, keyRef: string | null): Promise<string> {
  const { db, registry } = h.runtime.ctx;
  const tenantId = await tenantIdOf(h, slug);
  const cls = await db.prisma.dataClass.create({ data: { tenantId, name, state: keyRef ? "active" : "pending" } });
  if (provider && keyRef) {
    await db.prisma.keyConnection.create({ data: { tenantId, provider, keyRef, dataClassId: cls.id, role: "primary", status: "connected", lastValidatedAt: new Date() } });
  }
  registry.invalidate(tenantId);
  return cls.id;
}

/** Locks or unlocks one class: its row, then this instance's view and cache, as the lock service does. */
export async function setClassState(h: Harness, slug: string, name: string, state: "locked" | "active", reason?: string): Promise<void> {
  const { db, registry, cache } = h.runtime.ctx;
  const tenantId = await tenantIdOf(h, slug);
  const rows = await db.query<{ id: string }>(
    `UPDATE data_class SET state = $3::"TenantState", state_version = state_version + 1, state_since = now(), lock_reason = $4, lock_source = $5
      WHERE tenant_id = $1 AND name = $2 RETURNING id`,
    [tenantId, name, state, state === "locked" ? (reason ?? "locked") : null, state === "locked" ? "kill_switch" : null],
  );
  if (!rows[0]) throw new Error(`no class ${name}`);
  if (state === "locked") cache.dropClass(tenantId, rows[0].id);
  registry.invalidate(tenantId);
}
