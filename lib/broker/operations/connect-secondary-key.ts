// PUT /api/v1/tenants/{slug}/classes/{dataClass}/secondary-key: connects a class's secondary key
// (issue 12). Validated exactly like a primary (lib/broker/key-connect-check.ts: ownership, a real
// wrap + unwrap round trip), stored as a key_connection with role 'secondary' (data_class_id NULL
// for `default`). Another region or another cloud is fine; the class's own primary is refused (no
// failover from a key to itself). A secondary that replaces an earlier one drops that one's forms.
// Then an add_secondary job gives every existing DEK of the class a form under it.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { KmsProviderName } from "../../kms/types";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { claimKeyRef } from "../key-ownership";
import { validateKeyToConnect } from "../key-connect-check";
import { cancelSecondaryJobs, countMissingSecondary } from "../lifecycle/secondary-forms";
import { requireTenant } from "../tenant-lookup";
import { classByName, type ClassRef, type TenantView } from "../tenant-registry";
import { assertNotShredded } from "../views";
import { describeDataClass } from "../data-class-view";
import type { TenantOperation } from "./types";

export interface ConnectSecondaryKeyInput {
  dataClass: string;
  provider: KmsProviderName;
  keyId: string;
  serverCaPem?: string;
}

type Deps = Pick<BrokerContext, "providers" | "config" | "kms" | "audit" | "db" | "keys" | "registry" | "bus" | "cache" | "kmipCredentials" | "lifecycle" | "health" | "failover">;

/** The class by name, or 404 naming it. */
export function requireClass(tenant: TenantView, name: string): ClassRef {
  const cls = classByName(tenant, name);
  if (!cls) throw new BrokerError("not_found", `tenant has no data class '${name}'`, { dataClass: name });
  return cls;
}

export async function connectSecondaryKey({ ctx, actor, tenant: slug, requestId, dataClass, provider, keyId, serverCaPem }: TenantOperation<Deps> & ConnectSecondaryKeyInput) {
  authorize(actor, "key.connect", slug);
  const tenant = await requireTenant(ctx, slug);
  assertNotShredded(tenant);
  const cls = requireClass(tenant, dataClass);
  const primary = cls.scope.key;
  if (!primary) throw new BrokerError("tenant_not_ready", `data class '${cls.name}' has no key yet; connect its primary key first`, { dataClass: cls.name });
  const sameAsPrimary = (keyRef: string) => {
    if (keyRef === primary.keyRef && provider === primary.provider) {
      throw new BrokerError("invalid_request", "the secondary key must be another key than the class's primary (another region or another cloud)", { dataClass: cls.name });
    }
    return Promise.resolve();
  };
  const { keyRef, result } = await validateKeyToConnect(ctx, tenant.id, actor, requestId, { provider, keyId, serverCaPem }, sameAsPrimary, { dataClass: cls.name, role: "secondary" });
  const who = actorOf(actor);
  const connectionId = await ctx.db.transaction(async (tx) => {
    await claimKeyRef(tx, ctx.providers, tenant.id, provider, keyRef, result.wrappedByKey ?? null);
    // One secondary per class: an earlier one goes with its wrapped forms (cascade), and so does
    // the job that was adding them (its worker notices at its next batch).
    await cancelSecondaryJobs(tx, tenant.id, cls.id);
    await tx.query(`DELETE FROM key_connection WHERE tenant_id = $1 AND role = 'secondary' AND data_class_id IS NOT DISTINCT FROM $2::uuid`, [tenant.id, cls.id]);
    const [inserted] = await tx.query<{ id: string }>(
      `INSERT INTO key_connection (id, tenant_id, provider, key_ref, status, key_version, resolved_key, canary_wrapped, last_validated_at, last_probe_at, last_probe_outcome, data_class_id, role)
       VALUES (gen_random_uuid(), $1, $2::"KmsProviderName", $3, 'connected', $4, $6, $5, now(), now(), 'success', $7::uuid, 'secondary') RETURNING id`,
      [tenant.id, provider, keyRef, result.keyVersion, result.canaryWrapped, result.wrappedByKey ?? null, cls.id],
    );
    return inserted!.id;
  });
  const deks = await countMissingSecondary(ctx.db, tenant.id, connectionId);
  await ctx.audit.record({
    tenantId: tenant.id,
    actor: who,
    action: "secondary.connect",
    outcome: "success",
    provider,
    keyRef,
    keyVersion: result.keyVersion,
    requestId,
    detail: { dataClass: cls.name, connectionId, deks },
  });
  // The current DEK of the class was made before the secondary: the next one is wrapped under both.
  ctx.keys.forgetTenant(tenant.id);
  const view = (await ctx.registry.load({ id: tenant.id }))!;
  await ctx.bus.publish({ type: "tenant_changed", tenantId: tenant.id });
  // Existing DEKs get their secondary form now (or, while another job is open, from the sweep after it).
  if (deks > 0) await ctx.lifecycle.startSecondaryJob(tenant.id, connectionId, who, requestId);
  const card = await describeDataClass(ctx, view, cls.name);
  return { dataClass: card, validation: { steps: result.steps } };
}
