// POST /api/v1/tenants/{slug}/lifecycle/cancel: cancels the tenant's open re-wrap job.
// A key switch's job returns the tenant to its earlier key: that key (the newest retiring one)
// is re-validated with a real round trip and becomes the connected key again, new DEKs go to
// it at once, and the key being cancelled becomes "retiring": the DEKs already written or moved
// under it stay readable through it while a new job (cause cancel_switch) moves them back.
// Once that job completes, nothing depends on the cancelled key any more.
// A rotation or manual job is simply stopped (its DEKs stay readable under whichever version
// wrapped them); the scheduler does not restart it for the same key version.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { validateKeyRoundTrip } from "../key-validation";
import { lifecycleOf } from "../lifecycle/lifecycle-view";
import { retiringKeys } from "../lifecycle/retiring-keys";
import { loadTenant } from "../tenant-lookup";
import { validationError } from "../views";
import type { TenantOperation } from "./types";
// The response schema of this operation's route (lib/contracts).
export { ZLifecycle } from "../../contracts/lifecycle";

type Deps = Pick<BrokerContext, "db" | "lifecycle" | "registry" | "kms" | "audit" | "keys" | "bus">;

export async function cancelRewrap({ ctx, actor, tenant: slug, requestId }: TenantOperation<Deps>) {
  authorize(actor, "lifecycle.cancel", slug);
  const tenant = await loadTenant(ctx, slug);
  const job = await ctx.lifecycle.store.open(tenant.id);
  if (!job) throw new BrokerError("conflict", "no re-wrap job is running for this tenant");
  const who = actorOf(actor);
  // A switch happens within one data class (the job's target's): only that class's keys change hands.
  const targetClass = await ctx.db.query<{ data_class_id: string | null }>(`SELECT data_class_id FROM key_connection WHERE id = $1 AND tenant_id = $2`, [job.targetConnectionId, tenant.id]);
  const classId = targetClass[0]?.data_class_id ?? null;
  const earlier = job.cause === "key_switch" || job.cause === "cancel_switch" ? (await retiringKeys(ctx.db, tenant.id, classId))[0] : undefined;
  if (earlier && tenant.key) {
    const check = await validateKeyRoundTrip(ctx.kms, tenant.id, { provider: earlier.provider, keyRef: earlier.keyRef }, who, { lockOnRevoked: false, requestId });
    if (!check.ok) throw validationError(check);
    const back = await ctx.db.transaction(async (tx) => {
      await ctx.lifecycle.store.cancel(tx, tenant.id);
      await tx.query(`UPDATE key_connection SET status = 'retiring' WHERE tenant_id = $1 AND status = 'connected' AND role = 'primary' AND data_class_id IS NOT DISTINCT FROM $2::uuid`, [tenant.id, classId]);
      await tx.query(
        `UPDATE key_connection SET status = 'connected', key_version = coalesce($3, key_version), canary_wrapped = $4, last_validated_at = now() WHERE id = $2 AND tenant_id = $1`,
        [tenant.id, earlier.connectionId, check.keyVersion, check.canaryWrapped],
      );
      // In the same transaction: no sweep may open a job of its own in between.
      return ctx.lifecycle.startJobIn(tx, tenant.id, "cancel_switch");
    });
    ctx.keys.forgetTenant(tenant.id);
    await ctx.registry.load({ id: tenant.id });
    await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
    if (back.created && back.job) await ctx.lifecycle.started(back.job, who, requestId);
    await ctx.audit.record({ tenantId: tenant.id, actor: who, action: "rewrap.cancel", outcome: "success", requestId, detail: { jobId: job.id, returnJobId: back.job?.id ?? null } });
  } else {
    await ctx.lifecycle.store.cancel(ctx.db, tenant.id);
    await ctx.audit.record({ tenantId: tenant.id, actor: who, action: "rewrap.cancel", outcome: "success", requestId, detail: { jobId: job.id, returnJobId: null } });
  }
  return lifecycleOf(ctx.db, ctx.lifecycle.store, tenant);
}
