// Connecting the primary key of one data class (`default`: the tenant's key, PUT .../key; any
// other: PUT .../classes/{class}/key): the same checks for both. Canonical form, provider enabled,
// not another tenant's key, ownership tag, KMIP describe, a real wrap + unwrap round trip; only a
// key that passes is stored (with its class), the class's earlier key retires or is replaced,
// and a pending or KMS-locked class becomes active. Connecting another key to a class that has
// DEKs is a key switch within that class: the re-wrap job moves that class's DEKs only.
import type { Caller } from "../auth/caller";
import { actorOf } from "../auth/caller";
import type { KmsProviderName } from "../kms/types";
import type { BrokerContext } from "./context";
import { approvalGate } from "./governance/approval-gate";
import { validateKeyToConnect } from "./key-connect-check";
import { claimKeyRef } from "./key-ownership";
import type { ValidationResult } from "./key-validation";
import { countStale } from "./lifecycle/stale-deks";
import { classDetail } from "./tenant-lock";
import { classByName, type ClassRef, type TenantView } from "./tenant-registry";

/** Validated by ZConnectKeyRequest (lib/contracts/requests.ts). */
export interface ConnectKeyInput {
  provider: KmsProviderName;
  keyId: string;
  /** KMIP: the CA of the tenant's KMIP server. */
  serverCaPem?: string;
}

export type KeyConnectDeps = Pick<BrokerContext, "providers" | "config" | "kms" | "audit" | "db" | "keys" | "registry" | "locks" | "bus" | "cache" | "kmipCredentials" | "lifecycle" | "clock">;

export interface KeyConnectRequest extends ConnectKeyInput {
  actor: Caller;
  tenant: TenantView;
  cls: ClassRef;
  requestId?: string;
  approved?: boolean;
}

/** Validates and connects the class's primary key; throws grant_invalid (naming the failed step) or kms_unavailable. */
export async function connectClassPrimary(ctx: KeyConnectDeps, req: KeyConnectRequest): Promise<{ view: TenantView; result: ValidationResult }> {
  const { tenant, cls, actor, requestId, approved, provider: providerName, keyId, serverCaPem } = req;
  // A key or cloud switch (the class already has a key) can be under quorum; a first key cannot.
  const gate = cls.scope.key
    ? (keyRef: string) => approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "key.connect", params: { provider: providerName, keyId: keyRef, ...classDetail(cls) } })
    : undefined;
  // The checks every key connection passes (lib/broker/key-connect-check.ts), audited as key.validate.
  const { keyRef, result } = await validateKeyToConnect(ctx, tenant.id, actor, requestId, { provider: providerName, keyId, serverCaPem }, gate, classDetail(cls));
  const who = actorOf(actor);
  await ctx.db.transaction(async (tx) => {
    await claimKeyRef(tx, ctx.providers, tenant.id, providerName, keyRef, result.wrappedByKey ?? null);
    const [inserted] = await tx.query<{ id: string }>(
      `INSERT INTO key_connection (id, tenant_id, data_class_id, role, provider, key_ref, status, key_version, resolved_key, canary_wrapped, last_validated_at, last_probe_at, last_probe_outcome)
       VALUES (gen_random_uuid(), $1, $7::uuid, 'primary', $2::"KmsProviderName", $3, 'connected', $4, $6, $5, now(), now(), 'success') RETURNING id`,
      [tenant.id, providerName, keyRef, result.keyVersion, result.canaryWrapped, result.wrappedByKey ?? null, cls.id],
    );
    // Re-connecting the same key (after restoring it, say) is no migration: the class's DEKs move to the
    // new connection as they are (a DEK on an older version of it is still re-wrapped, as after a rotation).
    await tx.query(
      `UPDATE data_key d SET key_connection_id = $2 FROM key_connection kc
        WHERE kc.id = d.key_connection_id AND d.tenant_id = $1 AND kc.tenant_id = $1 AND kc.id <> $2 AND kc.provider = $3::"KmsProviderName" AND kc.key_ref = $4
          AND d.data_class_id IS NOT DISTINCT FROM $5::uuid`,
      [tenant.id, inserted!.id, providerName, keyRef, cls.id],
    );
    // The class's earlier primary stays readable (and probed) as "retiring" while DEKs depend on it; a
    // re-wrap job moves them to the new key (lib/broker/lifecycle). With no DEK under it, it is replaced at once.
    // A class locked because its key was revoked restores service with a new key: the revoked one is
    // replaced at once (its revocation no longer locks), and its DEKs move once it answers again.
    // Other classes' keys, and the class's secondary, are not touched.
    const restoring = cls.scope.state === "locked" && cls.scope.lockSource === "kms";
    await tx.query(
      `UPDATE key_connection kc SET status = CASE WHEN NOT $3 AND EXISTS (SELECT 1 FROM data_key d WHERE d.tenant_id = $1 AND d.key_connection_id = kc.id) THEN 'retiring' ELSE 'replaced' END
        WHERE kc.tenant_id = $1 AND kc.status IN ('connected', 'retiring') AND kc.id <> $2 AND kc.role = 'primary' AND kc.data_class_id IS NOT DISTINCT FROM $4::uuid`,
      [tenant.id, inserted!.id, restoring, cls.id],
    );
  });
  await ctx.audit.record({
    tenantId: tenant.id,
    actor: who,
    action: "key.connect",
    outcome: "success",
    provider: providerName,
    keyRef,
    keyVersion: result.keyVersion,
    requestId,
    ...(cls.id === null ? {} : { detail: classDetail(cls) }),
  });
  ctx.keys.forgetTenant(tenant.id);
  let view = (await ctx.registry.load({ id: tenant.id }))!;
  // A working key activates a pending class, and resumes one the KMS had locked; a kill switch stays.
  const scope = classByName(view, cls.name)?.scope;
  if (scope && (scope.state === "pending" || (scope.state === "locked" && scope.lockSource === "kms"))) {
    view = await ctx.locks.markActive(view, "validation", who, requestId, undefined, cls.name);
  }
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  // New DEKs already go to the new key; the migration of the class's earlier ones starts now, on an active class.
  const active = classByName(view, cls.name)?.scope.state === "active" && view.state === "active";
  if (active && (await countStale(ctx.db, tenant.id)) > 0) {
    const target = classByName(view, cls.name)?.scope.key?.connectionId;
    await ctx.lifecycle.startJob(tenant.id, "key_switch", who, requestId, target ? { targetConnectionId: target } : {});
  }
  return { view, result };
}
