// POST /api/v1/tenants/{slug}/shred: crypto-shredding for offboarding. Destroys every wrapped
// DEK of the tenant (the broker keeps no other copy, so every ciphertext made under them is
// unreadable for good), wipes cached DEKs on every instance, marks the tenant shredded (410 on
// every later data request, across restarts) and writes a signed certificate of destruction to
// the tenant's audit log. Irreversible: there is no un-shred.
import { getBrokerSigner } from "../../audit/signing";
import { dekIdsDigest, signShredCertificate } from "../../audit/shred-certificate";
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { approvalGate } from "../governance/approval-gate";
import { beforeShred, type ShredApprovalGate } from "../shred-approval";
import { loadTenant } from "../tenant-lookup";
import { actorLabel } from "../tenant-lock";
import { assertNotShredded, auditFailure, describeTenant, shreddedError } from "../views";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZShredRequest, ZShredResponse } from "../../contracts/shredding";

type Deps = Pick<BrokerContext, "db" | "audit" | "locks" | "bus" | "registry" | "cache" | "keys" | "clock">;

export interface ShredInput {
  /** The tenant's slug typed out by the caller. */
  confirm: string;
  /** The approval gate (lib/broker/shred-approval.ts); a dual-control rule is passed here. */
  approve?: ShredApprovalGate;
}

export async function shredTenant({ ctx, actor, tenant: slug, requestId, approved, confirm, approve = beforeShred }: TenantOperation<Deps> & ShredInput) {
  authorize(actor, "tenant.shred", slug);
  const tenant = await loadTenant(ctx, slug);
  assertNotShredded(tenant);
  if (confirm !== tenant.slug) throw new BrokerError("invalid_request", "confirm must be the tenant's slug, typed out: shredding cannot be undone");
  // Under the tenant's quorum policy, shredding waits for M other admins (202 with the request).
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "tenant.shred", params: { confirm } });
  const who = actorOf(actor);
  const approval = await approve({ tenant, actor: who, requestId });
  if (!approval.allowed) throw new BrokerError("forbidden", `shredding is not approved: ${approval.reason}`);

  const shreddedAt = new Date();
  // One transaction: the flag (which also stops any instance from storing a new DEK, see migration
  // 0008) and the deletion of every wrapped DEK commit together or not at all.
  const dekIds = await ctx.db.transaction(async (tx) => {
    const marked = await tx.query(`UPDATE tenant SET shredded_at = $2, shredded_by = $3, updated_at = $2 WHERE id = $1 AND shredded_at IS NULL RETURNING id`, [
      tenant.id,
      shreddedAt,
      actorLabel(who),
    ]);
    if (marked.length === 0) return null;
    const deleted = await tx.query<{ id: string }>(`DELETE FROM data_key WHERE tenant_id = $1 RETURNING id`, [tenant.id]);
    return deleted.map((r) => r.id);
  });
  if (dekIds === null) throw shreddedError(await loadTenant(ctx, slug));

  // Here first, then everywhere: peers drop their view of the tenant (and reload it shredded),
  // and the lock that follows wipes every instance's cached DEKs and waits for their acks.
  ctx.cache.dropTenant(tenant.id);
  ctx.keys.forgetTenant(tenant.id);
  ctx.registry.invalidate(tenant.id);
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  const view = (await ctx.registry.load({ id: tenant.id })) ?? tenant;
  const lock = await ctx.locks.lock(view, { source: "kill_switch", reason: "tenant_shredded", actor: who, requestId });
  await lock.fanout;

  const certificate = signShredCertificate(await getBrokerSigner(ctx.db), {
    format: 1,
    type: "certificate_of_destruction",
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    shreddedAt: shreddedAt.toISOString(),
    actor: { type: who.type, id: who.id ?? null, name: who.name ?? null },
    dekCount: dekIds.length,
    dekIdsSha256: dekIdsDigest(dekIds),
  });
  await ctx.audit.record({ tenantId: tenant.id, actor: who, action: "tenant.shred", outcome: "success", requestId, reason: "crypto_shredding", detail: { certificate } }).catch((e) => {
    throw auditFailure(e);
  });
  return { tenant: describeTenant(lock.tenant), certificate };
}
export type ShredTenantResult = Awaited<ReturnType<typeof shredTenant>>;
