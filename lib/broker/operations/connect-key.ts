// PUT /api/v1/tenants/{slug}/key: connects a key after proving a wrap + unwrap round trip;
// throws grant_invalid naming the failed step.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { KmsProviderName } from "../../kms/types";
import type { BrokerContext } from "../context";
import { connectableKeyRef, claimKeyRef, ownershipStep } from "../key-ownership";
import { validateKeyRoundTrip } from "../key-validation";
import { requireTenant } from "../tenant-lookup";
import { describeKey, describeTenant, validationError } from "../views";
import { approvalGate } from "../governance/approval-gate";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZConnectKeyRequest, ZConnectKeyResponse } from "../../contracts/requests";

/** Validated by ZConnectKeyRequest (lib/contracts/requests.ts). */
export interface ConnectKeyInput {
  provider: KmsProviderName;
  keyId: string;
}

type Deps = Pick<BrokerContext, "providers" | "config" | "kms" | "audit" | "db" | "keys" | "registry" | "locks" | "bus" | "cache" | "clock">;

export async function connectKey({ ctx, actor, tenant: slug, requestId, approved, provider: providerName, keyId }: TenantOperation<Deps> & ConnectKeyInput) {
  authorize(actor, "key.connect", slug);
  const tenant = await requireTenant(ctx, slug);
  // Canonical form, provider enabled, not another tenant's key, tagged as this tenant's (lib/broker/key-ownership.ts).
  const keyRef = await connectableKeyRef(ctx.providers, ctx.db, tenant.id, { provider: providerName, keyId });
  // A key or cloud switch (the tenant already has a key) can be under quorum; a first key cannot.
  if (tenant.key) await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "key.connect", params: { provider: providerName, keyId: keyRef } });
  const ownership = await ownershipStep(ctx.providers, ctx.config, tenant.id, providerName, keyRef);
  const who = actorOf(actor);
  const key = { provider: providerName, keyRef };
  const result = ownership && !ownership.ok ? ownership : await validateKeyRoundTrip(ctx.kms, tenant.id, key, who, { lockOnRevoked: false, requestId });
  if (ownership?.ok) result.steps.unshift(...ownership.steps);
  await ctx.audit.record({
    tenantId: tenant.id,
    actor: who,
    action: "key.validate",
    outcome: result.ok ? "success" : result.unavailable ? "unavailable" : "denied",
    provider: providerName,
    keyRef,
    keyVersion: result.keyVersion,
    requestId,
    reason: result.failure ? `${result.failure.step}:${result.failure.reason ?? result.failure.kind}` : undefined,
    detail: { steps: result.steps.map((s) => ({ step: s.step, ok: s.ok, latencyMs: Math.round(s.latencyMs * 10) / 10 })) },
  });
  if (!result.ok) throw validationError(result);
  await ctx.db.transaction(async (tx) => {
    await claimKeyRef(tx, ctx.providers, tenant.id, providerName, keyRef, result.keyVersion);
    await tx.query(`UPDATE key_connection SET status = 'replaced' WHERE tenant_id = $1 AND status = 'connected'`, [tenant.id]);
    await tx.query(
      `INSERT INTO key_connection (id, tenant_id, provider, key_ref, status, key_version, canary_wrapped, last_validated_at, last_probe_at, last_probe_outcome)
       VALUES (gen_random_uuid(), $1, $2::"KmsProviderName", $3, 'connected', $4, $5, now(), now(), 'success')`,
      [tenant.id, providerName, keyRef, result.keyVersion, result.canaryWrapped],
    );
  });
  await ctx.audit.record({ tenantId: tenant.id, actor: who, action: "key.connect", outcome: "success", provider: providerName, keyRef, keyVersion: result.keyVersion, requestId });
  ctx.keys.forgetTenant(tenant.id);
  let view = (await ctx.registry.load({ id: tenant.id }))!;
  // A working key activates a pending tenant, and resumes one the KMS had locked; a kill switch stays.
  if (view.state === "pending" || (view.state === "locked" && view.lockSource === "kms")) {
    view = await ctx.locks.markActive(view, "validation", who, requestId);
  }
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  return { tenant: describeTenant(view), key: describeKey(view), validation: { steps: result.steps } };
}
