// Re-wraps one DEK onto the tenant's connected key, online. The new wrapped form is verified by
// an unwrap before it replaces the old one, and the replacement is one compare-and-swap UPDATE
// (wrapped form, key connection and version together), so:
// - a crash at any point leaves either the old form or the verified new one, never neither;
// - a decrypt reads either form with the key that made it, both valid meanwhile (the DEK's bytes,
//   and so its cached copy, never change);
// - a DEK is never re-wrapped twice: a second worker's swap finds the old form gone.
// AWS -> AWS (including the same key onto its new version) uses ReEncrypt, so the plaintext DEK
// never reaches the broker; verification is a ReEncrypt of the new form onto itself, which
// decrypts it inside KMS. Elsewhere: unwrap, wrap, unwrap the new form and compare; every
// plaintext copy is zeroed.
import type { AuditActor } from "../../audit/types";
import type { SqlExecutor } from "../../db/database";
import { isKmsError, KmsError } from "../../kms/types";
import { dekContext } from "../data-keys";
import type { KmsGateway, KeyOnRecord } from "../kms-gateway";
import type { StaleDek } from "./stale-deks";

export interface RewrapTarget {
  connectionId: string;
  key: KeyOnRecord;
}

export type RewrapOutcome = { ok: true; kmsCalls: number; swapped: boolean; method: "reencrypt" | "unwrap_wrap" } | { ok: false; kmsCalls: number; error: KmsError };

/** KMS calls per DEK, for the rate limiter: ReEncrypt + verify, or unwrap + wrap + verify. */
export function callsPerDek(fromProvider: string, toProvider: string, allowReencrypt: boolean): number {
  return allowReencrypt && fromProvider === "aws" && toProvider === "aws" ? 2 : 3;
}

export async function rewrapOne(deps: { kms: KmsGateway; db: SqlExecutor }, tenantId: string, dek: StaleDek, target: RewrapTarget, actor: AuditActor, allowReencrypt: boolean): Promise<RewrapOutcome> {
  const ctx = dekContext(tenantId, dek.id);
  const from: KeyOnRecord = { provider: dek.fromProvider, keyRef: dek.fromKeyRef };
  const meta = { tenantId, actor, dekId: dek.id, opensCircuit: false };
  let calls = 0;
  try {
    let wrapped: Buffer | null = null;
    let keyVersion: string | null = null;
    let method: "reencrypt" | "unwrap_wrap" = "unwrap_wrap";
    if (allowReencrypt && from.provider === target.key.provider) {
      try {
        calls++;
        // A refusal here may only mean ReEncrypt is not granted: never lock on it; Decrypt below tells.
        const r = await deps.kms.reencrypt(from, target.key, dek.wrapped, ctx, ctx, { ...meta, lockOnRevoked: false });
        if (r) {
          calls++;
          await deps.kms.reencrypt(target.key, target.key, r.wrapped, ctx, ctx, { ...meta, lockOnRevoked: false });
          wrapped = r.wrapped;
          keyVersion = r.keyVersion;
          method = "reencrypt";
        } else {
          calls--;
        }
      } catch (e) {
        if (!isKmsError(e) || e.kind === "unavailable") throw e;
        wrapped = null; // not permitted or refused: fall back to unwrap + wrap, which judges the key properly
      }
    }
    if (!wrapped) {
      calls++;
      const plain = await deps.kms.unwrapRaw(from, dek.wrapped, ctx, meta);
      try {
        calls++;
        const r = await deps.kms.wrap(target.key, plain, ctx, meta);
        calls++;
        const check = await deps.kms.unwrapRaw(target.key, r.wrapped, ctx, meta);
        const same = check.equals(plain);
        check.fill(0);
        if (!same) return { ok: false, kmsCalls: calls, error: new KmsError("invalid", target.key.provider, "the new wrapped form did not unwrap to the same DEK") };
        wrapped = r.wrapped;
        keyVersion = r.keyVersion;
      } finally {
        plain.fill(0);
      }
    }
    // Only onto a key that is still connected: a pass whose job was cancelled (the tenant went back
    // to the earlier key) may still be finishing its batch, and a DEK it moved onto the abandoned
    // key after the way back had passed it would keep depending on a key shown as safe to revoke.
    const rows = await deps.db.query(
      `UPDATE data_key SET wrapped_key = $3, key_connection_id = $4, key_version = $5
        WHERE id = $1 AND tenant_id = $2 AND key_connection_id = $6 AND wrapped_key = $7
          AND EXISTS (SELECT 1 FROM key_connection WHERE id = $4 AND tenant_id = $2 AND status = 'connected')
        RETURNING id`,
      [dek.id, tenantId, wrapped, target.connectionId, keyVersion, dek.fromConnectionId, dek.wrapped],
    );
    return { ok: true, kmsCalls: calls, swapped: rows.length > 0, method };
  } catch (e) {
    const error = isKmsError(e) ? e : new KmsError("unavailable", target.key.provider, `re-wrap failed: ${(e as Error)?.message ?? String(e)}`);
    return { ok: false, kmsCalls: calls, error };
  }
}

/** A DEK that has no form under the class's secondary key yet (lib/broker/lifecycle/secondary-forms.ts). */
export interface DekMissingSecondary {
  id: string;
  /** The secondary's class (null: `default`), the lock scope the pass checks before each DEK. */
  dataClassId: string | null;
  wrapped: Buffer;
  primary: KeyOnRecord;
}

/**
 * Adds a DEK's form under a secondary key (cause add_secondary): unwrap with the primary, wrap
 * under the secondary with the same DEK context, unwrap the new form and compare, then insert it
 * (a second worker's insert of the same form is a no-op). The primary form is never touched.
 */
export async function wrapUnderSecondary(deps: { kms: KmsGateway; db: SqlExecutor }, tenantId: string, dek: DekMissingSecondary, target: RewrapTarget, actor: AuditActor): Promise<RewrapOutcome> {
  const ctx = dekContext(tenantId, dek.id);
  const meta = { tenantId, actor, dekId: dek.id, opensCircuit: false };
  const secondaryMeta = { ...meta, keyRole: "secondary" as const };
  let calls = 0;
  try {
    calls++;
    const plain = await deps.kms.unwrapRaw(dek.primary, dek.wrapped, ctx, { ...meta, keyRole: "primary" });
    let wrapped;
    try {
      calls++;
      wrapped = await deps.kms.wrap(target.key, plain, ctx, secondaryMeta);
      calls++;
      const check = await deps.kms.unwrapRaw(target.key, wrapped.wrapped, ctx, secondaryMeta);
      const same = check.equals(plain);
      check.fill(0);
      if (!same) return { ok: false, kmsCalls: calls, error: new KmsError("invalid", target.key.provider, "the secondary's wrapped form did not unwrap to the same DEK") };
    } finally {
      plain.fill(0);
    }
    const rows = await deps.db.query(
      `INSERT INTO data_key_wrap (dek_id, key_connection_id, tenant_id, wrapped_key, key_version, wrapped_by_key)
       SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM key_connection WHERE id = $2 AND tenant_id = $3 AND status = 'connected' AND role = 'secondary')
       ON CONFLICT (dek_id, key_connection_id) DO NOTHING RETURNING dek_id`,
      [dek.id, target.connectionId, tenantId, wrapped.wrapped, wrapped.keyVersion, wrapped.wrappedByKey ?? null],
    );
    return { ok: true, kmsCalls: calls, swapped: rows.length > 0, method: "unwrap_wrap" };
  } catch (e) {
    const error = isKmsError(e) ? e : new KmsError("unavailable", target.key.provider, `adding the secondary form failed: ${(e as Error)?.message ?? String(e)}`);
    return { ok: false, kmsCalls: calls, error };
  }
}
