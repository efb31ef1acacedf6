// Appending linked rows to tenants' hash chains: the SQL behind the group-commit writer
// (lib/audit/writer.ts), kept apart so the writer holds only the batching and its state.
import type { SqlExecutor } from "../db/database";
import type { AuditEventRecord } from "./canonical";
import { AUDIT_LOCK_NAMESPACE, EMPTY_HEAD, isUuid, linkEntries, lockKeyOf, type ChainHead, type PendingFields } from "./chain";

export function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "23505";
}

export function groupByTenant(entries: PendingFields[]): Map<string, PendingFields[]> {
  const byTenant = new Map<string, PendingFields[]>();
  for (const f of entries) {
    const list = byTenant.get(f.tenantId);
    if (list) list.push(f);
    else byTenant.set(f.tenantId, [f]);
  }
  return byTenant;
}

export function linkAll(byTenant: Map<string, PendingFields[]>, heads: Map<string, ChainHead>): Omit<AuditEventRecord, "id">[] {
  const links: Omit<AuditEventRecord, "id">[] = [];
  for (const t of [...byTenant.keys()].sort()) links.push(...linkEntries(heads.get(t) ?? EMPTY_HEAD, byTenant.get(t)!).links);
  return links;
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return p;
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`commit took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Appends entries (any mix of tenants, in arrival order per tenant) inside the caller's
 * transaction. The per-tenant advisory locks, taken in a fixed order, make instances that
 * share one database append to a tenant's chain one after another and never deadlock.
 */
export async function appendToChains(tx: SqlExecutor, entries: PendingFields[]): Promise<{ records: AuditEventRecord[]; links: Omit<AuditEventRecord, "id">[] }> {
  if (entries.length === 0) return { records: [], links: [] };
  const byTenant = groupByTenant(entries);
  const tenants = [...byTenant.keys()].sort();
  const lockKeys = [...new Set(tenants.map(lockKeyOf))].sort((a, b) => a - b);
  // Locks are taken left to right, then the heads are read in a later statement (so with a snapshot
  // taken after the locks were granted). Both go in one parameterless round trip, which also carries
  // the BEGIN: the lock keys are our own integers and the tenant ids were checked to be UUIDs.
  const heads = await readHeads(
    tx,
    tenants,
    `SELECT ${lockKeys.map((k, i) => `pg_advisory_xact_lock(${AUDIT_LOCK_NAMESPACE}, ${k}) AS l${i}`).join(", ")}`,
  );
  const links = linkAll(byTenant, heads);
  return { records: await insertLinks(tx, links, { lock: false }), links };
}

/**
 * One INSERT ... SELECT FROM unnest(<one array per column>): 21 parameters whatever the batch
 * size, so there is no bind-parameter limit to chunk around, and PostgreSQL parses and plans one
 * small statement instead of a VALUES list of 21 x N placeholders. One statement is atomic on
 * its own: on a unique violation no row of the batch is written.
 */
export async function insertLinks(db: SqlExecutor, links: Omit<AuditEventRecord, "id">[], opts: { lock: boolean }): Promise<AuditEventRecord[]> {
  // With `lock`, the statement takes the tenants' advisory locks (in key order, like the locked
  // transaction) before it can produce a row to insert: every row joins the one-row lock result.
  // So a writer that read the heads under the locks is never interleaved with, and only a stale
  // remembered head can conflict.
  const lockKeys = opts.lock ? [...new Set(links.map((l) => lockKeyOf(l.tenantId)))] : [];
  const rows = await db.query<{ id: unknown; tenant_id: string; seq: unknown }>(
    `${opts.lock ? `WITH locked AS MATERIALIZED (SELECT count(pg_advisory_xact_lock(${AUDIT_LOCK_NAMESPACE}, k)) FROM (SELECT k FROM unnest($22::int4[]) k ORDER BY k) keys) ` : ""}
     INSERT INTO audit_event (tenant_id, seq, time, actor_type, actor_id, actor_name, action, outcome, provider, key_ref,
       key_version, dek_id, cache_hit, latency_ms, bytes, purpose, request_id, reason, detail, prev_hash, hash)
     SELECT u.* FROM ${opts.lock ? "locked, " : ""}unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
       $9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[], $14::float8[], $15::int4[], $16::text[], $17::text[],
       $18::text[], $19::jsonb[], $20::text[], $21::text[]) u
     RETURNING id, tenant_id, seq`,
    [
      plainArray(links, (l) => l.tenantId), plainArray(links, (l) => l.seq), plainArray(links, (l) => l.time), textArray(links, (l) => l.actorType), textArray(links, (l) => l.actorId),
      textArray(links, (l) => l.actorName), textArray(links, (l) => l.action), textArray(links, (l) => l.outcome), textArray(links, (l) => l.provider), textArray(links, (l) => l.keyRef),
      textArray(links, (l) => l.keyVersion), textArray(links, (l) => l.dekId), plainArray(links, (l) => l.cacheHit), plainArray(links, (l) => l.latencyMs), plainArray(links, (l) => l.bytes),
      textArray(links, (l) => l.purpose), textArray(links, (l) => l.requestId), textArray(links, (l) => l.reason),
      textArray(links, (l) => (l.detail === null ? null : JSON.stringify(l.detail))), textArray(links, (l) => l.prevHash), plainArray(links, (l) => l.hash),
      ...(opts.lock ? [lockKeys] : []),
    ],
  );
  const ids = new Map<string, string>();
  for (const r of rows) ids.set(`${r.tenant_id}:${Number(r.seq)}`, String(r.id));
  return links.map((l) => ({ id: ids.get(`${l.tenantId}:${l.seq}`) ?? "", ...l }));
}

// PostgreSQL array literals built here rather than by pg (which quotes and escapes every element
// with two regex replacements and concatenates the literal one element at a time: ~7 KB of
// garbage per audit entry, the largest allocation of the data path). Same literals, one join.

type Link = Omit<AuditEventRecord, "id">;

/**
 * A column whose values can never hold a character special in an array literal (comma, braces,
 * quotes, backslash, whitespace) nor read as NULL: UUIDs checked by normalizeEntry, integers and
 * finite floats, booleans, ISO timestamps, hex hashes computed here. Elements go unquoted. (A
 * previous hash may come from a stored row, so it is quoted as text.)
 */
function plainArray(links: Link[], value: (l: Link) => string | number | boolean | null): string {
  return `{${links.map((l) => (value(l) ?? "NULL") as string | number | boolean).join(",")}}`;
}

const ARRAY_SPECIAL = /["\\]/;

/** A column of arbitrary text: every element double-quoted, with `"` and `\` escaped. */
function textArray(links: Link[], value: (l: Link) => string | null): string {
  return `{${links
    .map((l) => {
      const v = value(l);
      if (v === null) return "NULL";
      return ARRAY_SPECIAL.test(v) ? `"${v.replace(/[\\"]/g, "\\$&")}"` : `"${v}"`;
    })
    .join(",")}}`;
}

/**
 * Last link of each tenant's chain, in one query. Falls back to the newest checkpoint when every entry was pruned.
 * `before`: parameterless SQL sent in the same round trip ahead of the read (the ids are inlined for that, so they must be UUIDs).
 */
export async function readHeads(tx: SqlExecutor, tenants: string[], before?: string): Promise<Map<string, ChainHead>> {
  const heads = new Map<string, ChainHead>();
  if (tenants.length === 0) return heads;
  for (const t of tenants) if (!isUuid(t)) throw new Error("readHeads: tenant ids must be UUIDs");
  const rows = await tx.query<{ tenant_id: string; seq: unknown; hash: string | null; cp_seq: unknown; cp_hash: string | null }>(
    `${before ? `${before}; ` : ""}SELECT t.id::text AS tenant_id, e.seq, e.hash, c.seq AS cp_seq, c.hash AS cp_hash
       FROM (VALUES ${tenants.map((id) => `('${id}'::uuid)`).join(",")}) AS t(id)
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_event WHERE tenant_id = t.id ORDER BY seq DESC LIMIT 1) e ON true
       LEFT JOIN LATERAL (SELECT seq, hash FROM audit_checkpoint WHERE tenant_id = t.id ORDER BY seq DESC LIMIT 1) c ON true`,
  );
  for (const r of rows) {
    if (r.seq !== null && r.seq !== undefined) heads.set(r.tenant_id, { seq: Number(r.seq), hash: String(r.hash) });
    else if (r.cp_seq !== null && r.cp_seq !== undefined) heads.set(r.tenant_id, { seq: Number(r.cp_seq), hash: String(r.cp_hash) });
  }
  return heads;
}

/** For BROKER_AUDIT=off: accepts and drops every entry. */
