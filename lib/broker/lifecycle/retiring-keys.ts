// The keys a tenant is moving away from ("retiring" connections) stay connected for reads and
// are probed by the instance working the tenant's re-wrap job, once per pass: the canary the
// broker wrapped when the key was connected is unwrapped. A revoked answer goes through the
// usual lock-on-revocation path (lib/broker/lock-on-revocation.ts), which locks with reason
// `retiring_key_revoked` only while DEKs still depend on that key.
import type { AuditActor } from "../../audit/types";
import type { SqlExecutor } from "../../db/database";
import { isKmsError, type KmsError, type KmsProviderName } from "../../kms/types";
import type { KmsGateway } from "../kms-gateway";
import { canaryContext } from "../key-validation";

export interface RetiringKey {
  connectionId: string;
  provider: KmsProviderName;
  keyRef: string;
  canary: Buffer | null;
}

/** The tenant's retiring keys; with `classId` (null: `default`), only that data class's. */
export async function retiringKeys(db: SqlExecutor, tenantId: string, classId?: string | null): Promise<RetiringKey[]> {
  const rows = await db.query<{ id: string; provider: KmsProviderName; key_ref: string; canary_wrapped: Buffer | Uint8Array | null }>(
    `SELECT id, provider::text AS provider, key_ref, canary_wrapped FROM key_connection
      WHERE tenant_id = $1 AND status = 'retiring' AND ($2::boolean OR data_class_id IS NOT DISTINCT FROM $3::uuid) ORDER BY created_at DESC`,
    [tenantId, classId === undefined, classId ?? null],
  );
  return rows.map((r) => ({ connectionId: r.id, provider: r.provider, keyRef: r.key_ref, canary: r.canary_wrapped ? Buffer.from(r.canary_wrapped) : null }));
}

/** Probes every retiring key of the tenant; returns the first failure (revoked or unavailable), or null when all answered. */
export async function probeRetiringKeys(deps: { db: SqlExecutor; kms: KmsGateway }, tenantId: string, actor: AuditActor, opts: { lockOnRevoked: boolean }): Promise<KmsError | null> {
  for (const k of await retiringKeys(deps.db, tenantId)) {
    if (!k.canary) continue;
    const started = new Date();
    try {
      const canary = await deps.kms.unwrapRaw({ provider: k.provider, keyRef: k.keyRef }, k.canary, canaryContext(tenantId), {
        tenantId,
        actor,
        action: "kms.probe",
        lockOnRevoked: opts.lockOnRevoked,
        opensCircuit: false,
      });
      canary.fill(0);
      await deps.db.query(`UPDATE key_connection SET last_probe_at = $2, last_probe_outcome = 'success', last_error = NULL WHERE id = $1`, [k.connectionId, started]);
    } catch (e) {
      if (!isKmsError(e)) throw e;
      await deps.db.query(`UPDATE key_connection SET last_probe_at = $2, last_probe_outcome = $3, last_error = $4 WHERE id = $1`, [k.connectionId, started, e.kind, e.reason ?? e.detail.providerCode ?? null]);
      return e;
    }
  }
  return null;
}
