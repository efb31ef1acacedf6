// Streaming export. Rows are paged by seq (keyset), so memory stays bounded whatever the
// log's size, and a Readable built from the generator only pulls when the consumer reads.
//
// JSON Lines is self-verifying: a header with the broker's public keys, then every event
// with seq, prevHash and hash, with the signed checkpoints interleaved right after the event
// they cover. An export that does not start at seq 1 opens with the signed checkpoint that
// vouches for the first event's prevHash (after pruning, or when a time window starts
// mid-chain: the start then widens back to the nearest checkpoint, so every export verifies).
import { Readable } from "node:stream";
import type { Database } from "../db/database";
import { AUDIT_COLUMNS, readEventsAfter, rowToRecord } from "./chain";
import { createCheckpoint, listCheckpoints, type AuditCheckpointRecord } from "./checkpoints";
import { AuditQueryError, assertTenantId, buildAuditWhere, type AuditQueryFilters } from "./query";
import { listPublicKeys } from "./signing";
import type { AuditEventRecord } from "./canonical";

export type AuditExportFormat = "jsonl" | "csv";

export interface AuditExportOptions {
  pageSize?: number;
  /** Sign the current head first so the whole export is covered by a signature (default true). */
  checkpointHead?: boolean;
}

export const AUDIT_EXPORT_FORMAT_VERSION = 1;

export function auditExportContentType(format: AuditExportFormat): string {
  return format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8";
}

export function exportTenantAudit(
  db: Database,
  tenantId: string,
  format: AuditExportFormat,
  filters: AuditQueryFilters = {},
  opts: AuditExportOptions = {},
): AsyncGenerator<string> {
  assertTenantId(tenantId);
  if (format === "jsonl") {
    const extra = Object.entries(filters).filter(([k, v]) => v !== undefined && k !== "from" && k !== "to");
    if (extra.length > 0) throw new AuditQueryError("a jsonl export is a contiguous, verifiable chain: it accepts only from/to filters");
    return exportJsonl(db, tenantId, filters, opts);
  }
  if (format === "csv") return exportCsv(db, tenantId, filters, opts);
  throw new AuditQueryError("format must be jsonl or csv");
}

/** The same export as a Node Readable (backpressure-aware), e.g. for a Fastify reply. */
export function exportTenantAuditStream(
  db: Database,
  tenantId: string,
  format: AuditExportFormat,
  filters: AuditQueryFilters = {},
  opts: AuditExportOptions = {},
): Readable {
  return Readable.from(exportTenantAudit(db, tenantId, format, filters, opts), { objectMode: false, highWaterMark: 64 * 1024 });
}

async function minMax(db: Database, tenantId: string): Promise<{ min: number; max: number } | null> {
  const r = (await db.query<{ min: unknown; max: unknown }>(
    `SELECT (SELECT seq FROM audit_event WHERE tenant_id = $1 ORDER BY seq LIMIT 1) AS min,
            (SELECT seq FROM audit_event WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1) AS max`,
    [tenantId],
  ))[0];
  if (!r || r.min === null || r.max === null) return null;
  return { min: Number(r.min), max: Number(r.max) };
}

async function* exportJsonl(db: Database, tenantId: string, f: AuditQueryFilters, opts: AuditExportOptions): AsyncGenerator<string> {
  const pageSize = opts.pageSize ?? 2000;
  if (opts.checkpointHead ?? true) {
    // Best effort: without it the tail after the last periodic checkpoint is chained but unsigned.
    await createCheckpoint(db, tenantId).catch(() => null);
  }
  const range = await minMax(db, tenantId);
  let start = range?.min ?? 1;
  let end = range?.max ?? 0;
  if (range && f.from) {
    const r = (await db.query<{ seq: unknown }>(`SELECT min(seq) AS seq FROM audit_event WHERE tenant_id = $1 AND time >= $2`, [tenantId, f.from.toISOString()]))[0];
    start = r?.seq === null || r?.seq === undefined ? end + 1 : Number(r.seq);
  }
  if (range && f.to) {
    const r = (await db.query<{ seq: unknown }>(`SELECT max(seq) AS seq FROM audit_event WHERE tenant_id = $1 AND time < $2`, [tenantId, f.to.toISOString()]))[0];
    end = r?.seq === null || r?.seq === undefined ? 0 : Number(r.seq);
  }
  let anchor: AuditCheckpointRecord[] = [];
  if (range && start <= end && start > 1) {
    const candidates = await listCheckpoints(db, tenantId, { fromSeq: range.min - 1, toSeq: start - 1 });
    const best = candidates[candidates.length - 1];
    if (best) {
      start = best.seq + 1;
      anchor = candidates.filter((c) => c.seq === best.seq);
    } else start = range.min;
  }
  const publicKeys = await listPublicKeys(db);
  yield JSON.stringify({
    type: "header",
    format: AUDIT_EXPORT_FORMAT_VERSION,
    tenantId,
    exportedAt: new Date().toISOString(),
    fromSeq: start <= end ? start : null,
    toSeq: start <= end ? end : null,
    publicKeys,
  }) + "\n";
  if (start > end) return;
  for (const cp of anchor) yield checkpointLine(cp);
  let after = start - 1;
  while (after < end) {
    const events = await readEventsAfter(db, tenantId, after, pageSize, end);
    if (events.length === 0) break;
    const lastSeq = events[events.length - 1]!.seq;
    const cps = await listCheckpoints(db, tenantId, { fromSeq: after + 1, toSeq: lastSeq });
    let ci = 0;
    // One string per page keeps the number of stream chunks (and their overhead) small.
    let chunk = "";
    for (const ev of events) {
      chunk += JSON.stringify({ type: "event", ...ev }) + "\n";
      while (ci < cps.length && cps[ci]!.seq <= ev.seq) {
        if (cps[ci]!.seq === ev.seq) chunk += checkpointLine(cps[ci]!);
        ci++;
      }
    }
    yield chunk;
    after = lastSeq;
  }
}

function checkpointLine(cp: AuditCheckpointRecord): string {
  return JSON.stringify({ type: "checkpoint", ...cp }) + "\n";
}

export const CSV_COLUMNS: Array<keyof AuditEventRecord> = [
  "seq", "time", "actorType", "actorId", "actorName", "action", "outcome", "provider", "keyRef", "keyVersion", "dekId",
  "cacheHit", "latencyMs", "bytes", "purpose", "requestId", "reason", "detail", "prevHash", "hash", "id",
];

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  let s = typeof v === "object" ? JSON.stringify(v) : String(v);
  // Spreadsheet formula injection: caller-supplied text such as a purpose must not execute when opened.
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function* exportCsv(db: Database, tenantId: string, f: AuditQueryFilters, opts: AuditExportOptions): AsyncGenerator<string> {
  const pageSize = opts.pageSize ?? 2000;
  const { where, params } = buildAuditWhere(tenantId, f);
  yield CSV_COLUMNS.join(",") + "\r\n";
  let after = 0;
  for (;;) {
    const rows = await db.query(
      `SELECT ${AUDIT_COLUMNS} FROM audit_event WHERE ${where} AND seq > $${params.length + 1} ORDER BY seq LIMIT ${pageSize}`,
      [...params, after],
    );
    if (rows.length === 0) return;
    let chunk = "";
    for (const r of rows) {
      const ev = rowToRecord(r);
      chunk += CSV_COLUMNS.map((c) => csvCell(ev[c])).join(",") + "\r\n";
      after = ev.seq;
    }
    yield chunk;
    if (rows.length < pageSize) return;
  }
}
