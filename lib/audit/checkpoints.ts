// Signed checkpoints: the broker's Ed25519 signature over a tenant's chain head. They let a
// tenant verify an export offline, detect truncation of the newest entries, and anchor the
// chain after pruning (prunedBeforeSeq = first retained seq, hash = its prev hash).
import type { Database, SqlExecutor } from "../db/database";
import { canonicalJson } from "./canonical";
import { getBrokerSigner, type BrokerSigner } from "./signing";
import type { AuditWriter } from "./writer";

export interface AuditCheckpointRecord {
  tenantId: string;
  seq: number;
  hash: string;
  prunedBeforeSeq: number | null;
  keyId: string;
  /** Base64 Ed25519 signature over checkpointMessage(). */
  signature: string;
  createdAt: string;
}

const CHECKPOINT_DOMAIN = "cmek-broker/audit-checkpoint/v1\n";

/** What is signed: a domain tag, then the sorted-key JSON of the four chain facts. */
export function checkpointMessage(cp: { tenantId: string; seq: number; hash: string; prunedBeforeSeq: number | null }): string {
  return CHECKPOINT_DOMAIN + canonicalJson({ tenantId: cp.tenantId, seq: cp.seq, hash: cp.hash, prunedBeforeSeq: cp.prunedBeforeSeq });
}

export function rowToCheckpoint(r: Record<string, unknown>): AuditCheckpointRecord {
  const created = r.created_at;
  return {
    tenantId: String(r.tenant_id),
    seq: Number(r.seq),
    hash: String(r.hash),
    prunedBeforeSeq: r.pruned_before_seq === null || r.pruned_before_seq === undefined ? null : Number(r.pruned_before_seq),
    keyId: String(r.key_id),
    signature: String(r.signature),
    createdAt: created instanceof Date ? created.toISOString() : String(created),
  };
}

export const CHECKPOINT_COLUMNS = `tenant_id, seq, hash, pruned_before_seq, key_id, signature, created_at`;

/** Signs and stores a checkpoint inside the caller's transaction. */
export async function insertCheckpoint(
  tx: SqlExecutor,
  signer: BrokerSigner,
  cp: { tenantId: string; seq: number; hash: string; prunedBeforeSeq: number | null },
): Promise<AuditCheckpointRecord> {
  const signature = signer.sign(checkpointMessage(cp));
  const rows = await tx.query(
    `INSERT INTO audit_checkpoint (tenant_id, seq, hash, pruned_before_seq, signature, key_id)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${CHECKPOINT_COLUMNS}`,
    [cp.tenantId, cp.seq, cp.hash, cp.prunedBeforeSeq, signature, signer.keyId],
  );
  return rowToCheckpoint(rows[0]!);
}

/**
 * Checkpoints the tenant's current head. Returns the existing checkpoint when the head is
 * already signed, and null for an empty chain.
 */
export async function createCheckpoint(db: Database, tenantId: string): Promise<AuditCheckpointRecord | null> {
  const signer = await getBrokerSigner(db);
  const head = (await db.query<{ seq: unknown; hash: string }>(
    `SELECT seq, hash FROM audit_event WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`,
    [tenantId],
  ))[0];
  if (!head) return null;
  const seq = Number(head.seq);
  const existing = (await db.query(
    `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE tenant_id = $1 AND seq = $2 AND hash = $3 ORDER BY id DESC LIMIT 1`,
    [tenantId, seq, head.hash],
  ))[0];
  if (existing) return rowToCheckpoint(existing);
  return insertCheckpoint(db, signer, { tenantId, seq, hash: head.hash, prunedBeforeSeq: null });
}

export async function listCheckpoints(db: SqlExecutor, tenantId: string, range: { fromSeq?: number; toSeq?: number } = {}): Promise<AuditCheckpointRecord[]> {
  const rows = await db.query(
    `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoint WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq, id`,
    [tenantId, range.fromSeq ?? 0, range.toSeq ?? Number.MAX_SAFE_INTEGER],
  );
  return rows.map(rowToCheckpoint);
}

export interface CheckpointSchedulerOptions {
  /** Checkpoint a tenant after this many new entries (default 1000). */
  everyEntries?: number;
  /** ...or after this long when it has any new entry (default 60 s). */
  everyMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * Watches the writer's durable batches and checkpoints busy tenants. Counts are per
 * instance: with several instances a tenant is checkpointed somewhat more often, never less.
 */
export class CheckpointScheduler {
  private readonly counts = new Map<string, { n: number; since: number }>();
  private readonly inflight = new Map<string, Promise<void>>();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly everyEntries: number;
  private readonly everyMs: number;

  constructor(
    private readonly db: Database,
    private readonly writer: Pick<AuditWriter, "onDurable">,
    private readonly opts: CheckpointSchedulerOptions = {},
  ) {
    this.everyEntries = opts.everyEntries ?? 1000;
    this.everyMs = opts.everyMs ?? 60_000;
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.writer.onDurable((events) => {
      const now = Date.now();
      for (const e of events) {
        const c = this.counts.get(e.tenantId);
        if (c) c.n += 1;
        else this.counts.set(e.tenantId, { n: 1, since: now });
      }
      for (const [tenantId, c] of this.counts) if (c.n >= this.everyEntries) this.trigger(tenantId);
    });
    this.timer = setInterval(() => this.tick(), Math.max(250, Math.min(this.everyMs, 5000)));
    this.timer.unref();
  }

  private tick(): void {
    const now = Date.now();
    for (const [tenantId, c] of this.counts) if (c.n > 0 && now - c.since >= this.everyMs) this.trigger(tenantId);
  }

  private trigger(tenantId: string): void {
    if (this.inflight.has(tenantId)) return;
    this.counts.delete(tenantId);
    const p = createCheckpoint(this.db, tenantId)
      .then(() => undefined)
      .catch((e) => this.opts.onError?.(e))
      .finally(() => this.inflight.delete(tenantId));
    this.inflight.set(tenantId, p);
  }

  /** Checkpoints every tenant with entries not yet counted into a checkpoint. */
  async checkpointAll(): Promise<void> {
    for (const tenantId of [...this.counts.keys()]) this.trigger(tenantId);
    await Promise.all(this.inflight.values());
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.inflight.values());
  }
}
