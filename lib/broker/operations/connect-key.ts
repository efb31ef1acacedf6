// PUT /api/v1/tenants/{slug}/key: connects a key after proving a wrap + unwrap round trip;
// throws grant_invalid naming the failed step.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/permissions";
import { providerFor } from "../../kms/registry";
import { isKmsError, type KmsProviderName } from "../../kms/types";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { validateKeyRoundTrip } from "../key-validation";
import { requireTenant } from "../tenant-lookup";
import { describeKey, describeTenant, validationError } from "../views";
import type { TenantOperation } from "./types";

/** Validated by ZConnectKeyRequest (lib/http/schemas.ts). */
export interface ConnectKeyInput {
  provider: KmsProviderName;
  keyId: string;
}

type Deps = Pick<BrokerContext, "providers" | "kms" | "audit" | "db" | "keys" | "registry" | "locks" | "bus" | "cache">;

export async function connectKey({ ctx, actor, tenant: slug, requestId, provider: providerName, keyId }: TenantOperation<Deps> & ConnectKeyInput) {
  authorize(actor, "key.connect", slug);
  const tenant = await requireTenant(ctx, slug);
  const provider = providerFor(ctx.providers, providerName);
  try {
    provider.validateKeyRef(keyId);
  } catch (e) {
    throw new BrokerError("invalid_key_ref", isKmsError(e) ? e.message : "invalid key reference", { field: "keyId" });
  }
  const who = actorOf(actor);
  const key = { provider: providerName, keyRef: keyId };
  const result = await validateKeyRoundTrip(ctx.kms, tenant.id, key, who, { lockOnRevoked: false, requestId });
  await ctx.audit.record({
    tenantId: tenant.id,
    actor: who,
    action: "key.validate",
    outcome: result.ok ? "success" : result.unavailable ? "unavailable" : "denied",
    provider: providerName,
    keyRef: keyId,
    keyVersion: result.keyVersion,
    requestId,
    reason: result.failure ? `${result.failure.step}:${result.failure.reason ?? result.failure.kind}` : undefined,
    detail: { steps: result.steps.map((s) => ({ step: s.step, ok: s.ok, latencyMs: Math.round(s.latencyMs * 10) / 10 })) },
  });
  if (!result.ok) throw validationError(result);
  await ctx.db.transaction(async (tx) => {
    await tx.query(`UPDATE key_connection SET status = 'replaced' WHERE tenant_id = $1 AND status = 'connected'`, [tenant.id]);
    await tx.query(
      `INSERT INTO key_connection (id, tenant_id, provider, key_ref, status, key_version, canary_wrapped, last_validated_at, last_probe_at, last_probe_outcome)
       VALUES (gen_random_uuid(), $1, $2::"KmsProviderName", $3, 'connected', $4, $5, now(), now(), 'success')`,
      [tenant.id, providerName, keyId, result.keyVersion, result.canaryWrapped],
    );
  });
  await ctx.audit.record({ tenantId: tenant.id, actor: who, action: "key.connect", outcome: "success", provider: providerName, keyRef: keyId, keyVersion: result.keyVersion, requestId });
  ctx.keys.forgetTenant(tenant.id);
  let view = (await ctx.registry.load({ id: tenant.id }))!;
  // A working key activates a pending tenant, and resumes one the KMS had locked; a kill switch stays.
  if (view.state === "pending" || (view.state === "locked" && view.lockSource === "kms")) {
    view = await ctx.locks.markActive(view, "validation", who, requestId);
  }
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  return { tenant: describeTenant(view), key: describeKey(view), validation: { steps: result.steps } };
}
