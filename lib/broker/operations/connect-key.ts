// PUT /api/v1/tenants/{slug}/key: connects a key after proving a wrap + unwrap round trip;
// throws grant_invalid naming the failed step.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { KmsProviderName } from "../../kms/types";
import type { BrokerContext } from "../context";
import { claimKeyRef } from "../key-ownership";
import { validateKeyToConnect } from "../key-connect-check";
import { countStale } from "../lifecycle/stale-deks";
import { requireTenant } from "../tenant-lookup";
import { assertNotShredded, describeKey, describeTenant } from "../views";
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
  // A key or cloud switch (the tenant already has a key) can be under quorum; a first key cannot.
  const gate = tenant.key ? (keyRef: string) => approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "key.connect", params: { provider: providerName, keyId: keyRef } }) : undefined;
  const { keyRef, result } = await validateKeyToConnect(ctx, tenant.id, actor, requestId, { provider: providerName, keyId, serverCaPem }, gate);
  const who = actorOf(actor);
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
        WHERE kc.tenant_id = $1 AND kc.role = 'primary' AND kc.status IN ('connected', 'retiring') AND kc.id <> $2`,
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
