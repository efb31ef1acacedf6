// Retention: drops a tenant's oldest entries while keeping the rest verifiable. Before the
// prefix goes, it is verified (so pruning cannot launder tampering) and a signed checkpoint
// records the hash the first retained entry chains from; audit_prune() refuses without it.
import type { Database } from "../db/database";
import { AUDIT_LOCK_NAMESPACE, lockKeyOf } from "./chain";
import { insertCheckpoint, type AuditCheckpointRecord } from "./checkpoints";
import { assertTenantId } from "./query";
import { getBrokerSigner } from "./signing";
import { verifyTenantChain, type AuditBadEntry } from "./verify";

export interface PruneResult {
  /** Entries deleted. */
  pruned: number;
  /** First retained seq (entries below it are gone); null when nothing was pruned. */
  beforeSeq: number | null;
  checkpoint: AuditCheckpointRecord | null;
}

export class AuditPruneRefusedError extends Error {
  override readonly name = "AuditPruneRefusedError";
  constructor(readonly badEntry: AuditBadEntry) {
    super(`refusing to prune: the chain does not verify at seq ${badEntry.seq} (${badEntry.problem})`);
  }
}

/**
 * Prunes entries older than `olderThan`: everything before the first entry whose time is at
 * or after it. The newest entry always stays, so the chain keeps a head to append to.
 */
export async function pruneTenantAudit(db: Database, tenantId: string, olderThan: Date): Promise<PruneResult> {
  assertTenantId(tenantId);
  const r = (await db.query<{ min: unknown; max: unknown; keep: unknown }>(
    `SELECT (SELECT seq FROM audit_event WHERE tenant_id = $1 ORDER BY seq LIMIT 1) AS min,
            (SELECT seq FROM audit_event WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1) AS max,
            (SELECT min(seq) FROM audit_event WHERE tenant_id = $1 AND time >= $2) AS keep`,
    [tenantId, olderThan.toISOString()],
  ))[0];
  if (!r || r.min === null || r.max === null) return { pruned: 0, beforeSeq: null, checkpoint: null };
  const min = Number(r.min);
  const max = Number(r.max);
  const beforeSeq = Math.min(r.keep === null || r.keep === undefined ? max : Number(r.keep), max);
  if (beforeSeq <= min) return { pruned: 0, beforeSeq: null, checkpoint: null };

  const check = await verifyTenantChain(db, tenantId, { untilSeq: beforeSeq });
  if (!check.ok) throw new AuditPruneRefusedError(check.firstBadEntry!);

  const signer = await getBrokerSigner(db);
  return db.transaction(async (tx) => {
    // Same lock as the writer: the checkpoint and the delete see one consistent chain.
    await tx.query(`SELECT pg_advisory_xact_lock(${AUDIT_LOCK_NAMESPACE}, ${lockKeyOf(tenantId)})`);
    const first = (await tx.query<{ prev_hash: string }>(`SELECT prev_hash FROM audit_event WHERE tenant_id = $1 AND seq = $2`, [tenantId, beforeSeq]))[0];
    if (!first) throw new Error(`audit entry seq ${beforeSeq} vanished while pruning`);
    const checkpoint = await insertCheckpoint(tx, signer, { tenantId, seq: beforeSeq - 1, hash: first.prev_hash, prunedBeforeSeq: beforeSeq });
    const del = (await tx.query<{ n: unknown }>(`SELECT audit_prune($1::uuid, $2::bigint) AS n`, [tenantId, beforeSeq]))[0];
    return { pruned: Number(del?.n ?? 0), beforeSeq, checkpoint };
  });
}

/** Applies every tenant's configured retention (tenant.retention_days); returns entries pruned per tenant. */
export async function applyRetention(db: Database, now = new Date()): Promise<Map<string, PruneResult>> {
  const tenants = await db.query<{ id: string; retention_days: unknown }>(`SELECT id::text AS id, retention_days FROM tenant WHERE retention_days IS NOT NULL AND retention_days > 0`);
  const out = new Map<string, PruneResult>();
  for (const t of tenants) {
    const cutoff = new Date(now.getTime() - Number(t.retention_days) * 86_400_000);
    out.set(t.id, await pruneTenantAudit(db, t.id, cutoff));
  }
  return out;
}
