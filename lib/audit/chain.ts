// Turning broker-supplied entries into chain links, and database rows back into records.
// Normalisation happens before hashing so that what is hashed is exactly what PostgreSQL
// stores and returns (text without NUL or lone surrogates, int4 bytes, finite float8,
// millisecond time, JSONB-safe detail); otherwise a stored row could never re-verify.
import { createHash } from "node:crypto";
import { GENESIS_HASH, hashEntry, type AuditChainFields, type AuditEventRecord } from "./canonical";
import type { SqlExecutor } from "../db/database";
import type { AuditEntryInput } from "./types";

export type PendingFields = Omit<AuditChainFields, "seq">;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: unknown): s is string {
  return typeof s === "string" && UUID_RE.test(s);
}

export class AuditEntryInvalidError extends Error {
  override readonly name = "AuditEntryInvalidError";
}

// NUL on purpose: PostgreSQL text cannot hold it.
// eslint-disable-next-line no-control-regex -- the NUL character is what this pattern replaces
const LONE_SURROGATE_OR_NUL = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u0000/g;

function text(s: unknown): string | null {
  if (s === undefined || s === null) return null;
  const str = typeof s === "string" ? s : String(s);
  return str.replace(LONE_SURROGATE_OR_NUL, "\uFFFD");
}

function cleanJson(v: unknown): unknown {
  if (typeof v === "string") return text(v);
  if (Array.isArray(v)) return v.map(cleanJson);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[text(k)!] = cleanJson(val);
    return out;
  }
  return v;
}

/**
 * A plain object whose members are strings, finite numbers, booleans or null (a batch item's
 * index and size, most details): what the JSON round trip below returns, without it. Null when
 * the object needs the full treatment.
 */
function flatDetail(d: Record<string, unknown>): Record<string, unknown> | null {
  if (Object.getPrototypeOf(d) !== Object.prototype) return null;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(d)) {
    const v = d[k];
    if (v === undefined) continue;
    if (typeof v === "string") out[text(k)!] = text(v);
    // JSON writes -0 as 0.
    else if (typeof v === "number" && Number.isFinite(v)) out[text(k)!] = v === 0 ? 0 : v;
    else if (v === null || typeof v === "boolean") out[text(k)!] = v;
    else return null;
  }
  return out;
}

function detailOf(d: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (d === undefined || d === null) return null;
  const flat = typeof d === "object" && !Array.isArray(d) ? flatDetail(d) : null;
  if (flat) return flat;
  // Round-trip through JSON first: drops undefined/functions and applies toJSON (Dates), as JSONB storage would.
  const plain = JSON.parse(JSON.stringify(d)) as unknown;
  if (!plain || typeof plain !== "object" || Array.isArray(plain)) return null;
  return cleanJson(plain) as Record<string, unknown>;
}

function finite(n: unknown): number | null {
  return typeof n === "number" && Number.isFinite(n) ? n : null;
}

function int4(n: unknown): number | null {
  const f = finite(n);
  if (f === null) return null;
  return Math.max(-2147483648, Math.min(2147483647, Math.trunc(f)));
}

export function normalizeEntry(e: AuditEntryInput, now = new Date()): PendingFields {
  if (!isUuid(e.tenantId)) throw new AuditEntryInvalidError("audit entry needs a tenant id (uuid)");
  if (!e.actor || typeof e.actor.type !== "string" || !e.action || !e.outcome) {
    throw new AuditEntryInvalidError("audit entry needs actor.type, action and outcome");
  }
  let time = e.time instanceof Date && !Number.isNaN(e.time.getTime()) ? e.time : now;
  const year = time.getUTCFullYear();
  if (year < 1970 || year > 9999) time = now;
  return {
    tenantId: e.tenantId.toLowerCase(),
    time: time.toISOString(),
    actorType: text(e.actor.type)!,
    actorId: text(e.actor.id),
    actorName: text(e.actor.name),
    action: text(e.action)!,
    outcome: text(e.outcome)!,
    provider: text(e.provider),
    keyRef: text(e.keyRef),
    keyVersion: text(e.keyVersion),
    dekId: text(e.dekId),
    cacheHit: typeof e.cacheHit === "boolean" ? e.cacheHit : null,
    latencyMs: finite(e.latencyMs),
    bytes: int4(e.bytes),
    purpose: text(e.purpose),
    requestId: text(e.requestId),
    reason: text(e.reason),
    detail: detailOf(e.detail),
  };
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export const EMPTY_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

/** Appends `pending` to a chain whose last link is `head`; returns the links and the new head. */
export function linkEntries(head: ChainHead, pending: PendingFields[]): { links: Omit<AuditEventRecord, "id">[]; head: ChainHead } {
  let { seq, hash } = head;
  const links: Omit<AuditEventRecord, "id">[] = [];
  for (const p of pending) {
    seq += 1;
    // One object per link: the hash covers the chain fields only (canonicalEntry picks them by name).
    const link = { ...p, seq, prevHash: hash, hash: "" };
    link.hash = hashEntry(hash, link);
    links.push(link);
    hash = link.hash;
  }
  return { links, head: { seq, hash } };
}

/** Advisory-lock namespace ("AUDT") for the two-int form, so tenant locks never collide with other users of advisory locks. */
export const AUDIT_LOCK_NAMESPACE = 0x41554454;

/** A stable int4 per id (a tenant, a webhook subscription) for advisory locks; a collision only makes two ids share a lock, which is harmless. */
export function lockKeyOf(id: string): number {
  const lower = id.toLowerCase();
  let key = lockKeys.get(lower);
  if (key === undefined) {
    key = createHash("sha256").update(lower).digest().readInt32BE(0);
    // Bounded: forgetting a key only means hashing the id again.
    if (lockKeys.size >= MAX_CACHED_LOCK_KEYS) lockKeys.clear();
    lockKeys.set(lower, key);
  }
  return key;
}

/** lockKeyOf per id: every group commit asks for the key of each of its entries' tenants. */
const lockKeys = new Map<string, number>();
const MAX_CACHED_LOCK_KEYS = 100_000;

export const AUDIT_COLUMNS =
  `id, tenant_id, seq, time, actor_type, actor_id, actor_name, action, outcome, provider, key_ref, key_version, dek_id, ` +
  `cache_hit, latency_ms, bytes, purpose, request_id, reason, detail, prev_hash, hash`;

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

export function rowToRecord(r: Record<string, unknown>): AuditEventRecord {
  const t = r.time;
  const detail = r.detail;
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    seq: Number(r.seq),
    time: t instanceof Date ? t.toISOString() : new Date(String(t)).toISOString(),
    actorType: String(r.actor_type),
    actorId: strOrNull(r.actor_id),
    actorName: strOrNull(r.actor_name),
    action: String(r.action),
    outcome: String(r.outcome),
    provider: strOrNull(r.provider),
    keyRef: strOrNull(r.key_ref),
    keyVersion: strOrNull(r.key_version),
    dekId: strOrNull(r.dek_id),
    cacheHit: r.cache_hit === null || r.cache_hit === undefined ? null : Boolean(r.cache_hit),
    latencyMs: numOrNull(r.latency_ms),
    bytes: numOrNull(r.bytes),
    purpose: strOrNull(r.purpose),
    requestId: strOrNull(r.request_id),
    reason: strOrNull(r.reason),
    detail: detail === null || detail === undefined ? null : typeof detail === "string" ? (JSON.parse(detail) as Record<string, unknown>) : (detail as Record<string, unknown>),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/** The tenant's entries after `afterSeq` (up to `untilSeq`), in seq order, at most `limit`: one page of a chain walk. */
export async function readEventsAfter(db: SqlExecutor, tenantId: string, afterSeq: number, limit: number, untilSeq = Number.MAX_SAFE_INTEGER): Promise<AuditEventRecord[]> {
  const rows = await db.query(
    `SELECT ${AUDIT_COLUMNS} FROM audit_event WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT ${Math.max(1, Math.floor(limit))}`,
    [tenantId, afterSeq, untilSeq],
  );
  return rows.map(rowToRecord);
}
