// PUT /api/v1/tenants/{slug}/key: connects a key after proving a wrap + unwrap round trip;
// throws grant_invalid naming the failed step.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { KmsProviderName } from "../../kms/types";
import type { BrokerContext } from "../context";
import { connectableKeyRef, claimKeyRef, ownershipStep } from "../key-ownership";
import { validateKeyRoundTrip } from "../key-validation";
import { stageKmipTrust } from "../kmip-credentials";
import { kmipDescribeStep } from "../kmip-validation";
import { countStale } from "../lifecycle/stale-deks";
import { requireTenant } from "../tenant-lookup";
import { assertNotShredded, describeKey, describeTenant, validationError } from "../views";
import { approvalGate } from "../governance/approval-gate";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZConnectKeyRequest, ZConnectKeyResponse } from "../../contracts/requests";

/** Validated by ZConnectKeyRequest (lib/contracts/requests.ts). */
export interface ConnectKeyInput {
  provider: KmsProviderName;
  keyId: string;
  /** KMIP: the CA of the tenant's KMIP server. */
  serverCaPem?: string;
}

type Deps = Pick<BrokerContext, "providers" | "config" | "kms" | "audit" | "db" | "keys" | "registry" | "locks" | "bus" | "cache" | "kmipCredentials" | "lifecycle" | "clock">;

export async function connectKey({ ctx, actor, tenant: slug, requestId, approved, provider: providerName, keyId, serverCaPem }: TenantOperation<Deps> & ConnectKeyInput) {
  authorize(actor, "key.connect", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  // Canonical form, provider enabled, not another tenant's key, tagged as this tenant's (lib/broker/key-ownership.ts).
  const keyRef = await connectableKeyRef(ctx.providers, ctx.db, tenant.id, { provider: providerName, keyId });
  // A key or cloud switch (the tenant already has a key) can be under quorum; a first key cannot.
  if (tenant.key) await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "key.connect", params: { provider: providerName, keyId: keyRef } });
  // KMIP: the validation below already runs with the tenant's client identity and this CA.
  if (providerName === "kmip") await stageKmipTrust(ctx.kmipCredentials, tenant.id, keyRef, serverCaPem);
  const ownership = await ownershipStep(ctx.providers, ctx.config, tenant.id, providerName, keyRef);
  const who = actorOf(actor);
  const key = { provider: providerName, keyRef };
  const described = providerName === "kmip" ? await kmipDescribeStep(ctx.providers, tenant.id, keyRef) : null;
  const result =
    ownership && !ownership.ok ? ownership : (described?.failed ?? (await validateKeyRoundTrip(ctx.kms, tenant.id, key, who, { lockOnRevoked: false, requestId })));
  if (described && !described.failed) result.steps.unshift(described.step);
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
    await claimKeyRef(tx, ctx.providers, tenant.id, providerName, keyRef, result.wrappedByKey ?? null);
    const [inserted] = await tx.query<{ id: string }>(
      `INSERT INTO key_connection (id, tenant_id, provider, key_ref, status, key_version, resolved_key, canary_wrapped, last_validated_at, last_probe_at, last_probe_outcome)
       VALUES (gen_random_uuid(), $1, $2::"KmsProviderName", $3, 'connected', $4, $6, $5, now(), now(), 'success') RETURNING id`,
      [tenant.id, providerName, keyRef, result.keyVersion, result.canaryWrapped, result.wrappedByKey ?? null],
    );
    // Re-connecting the same key (after restoring it, say) is no migration: its DEKs move to the new
    // connection as they are (a DEK on an older version of it is still re-wrapped, as after a rotation).
    await tx.query(
      `UPDATE data_key d SET key_connection_id = $2 FROM key_connection kc
        WHERE kc.id = d.key_connection_id AND d.tenant_id = $1 AND kc.tenant_id = $1 AND kc.id <> $2 AND kc.provider = $3::"KmsProviderName" AND kc.key_ref = $4`,
      [tenant.id, inserted!.id, providerName, keyRef],
    );
    // The earlier key stays readable (and probed) as "retiring" while DEKs depend on it; a re-wrap
    // job moves them to the new key (lib/broker/lifecycle). With no DEK under it, it is replaced at once.
    // A tenant locked because its key was revoked restores service with a new key: the revoked one is
    // replaced at once (its revocation no longer locks), and its DEKs move once it answers again.
    const restoring = tenant.state === "locked" && tenant.lockSource === "kms";
    await tx.query(
      `UPDATE key_connection kc SET status = CASE WHEN NOT $3 AND EXISTS (SELECT 1 FROM data_key d WHERE d.tenant_id = $1 AND d.key_connection_id = kc.id) THEN 'retiring' ELSE 'replaced' END
        WHERE kc.tenant_id = $1 AND kc.status IN ('connected', 'retiring') AND kc.id <> $2`,
      [tenant.id, inserted!.id, restoring],
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
  // New DEKs already go to the new key; the migration of the earlier ones starts now, on an active tenant.
  if (view.state === "active" && (await countStale(ctx.db, tenant.id)) > 0) await ctx.lifecycle.startJob(tenant.id, "key_switch", who, requestId);
  return { tenant: describeTenant(view), key: describeKey(view), validation: { steps: result.steps } };
}
