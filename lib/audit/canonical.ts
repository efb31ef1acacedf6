// The byte-exact form an audit entry is hashed over. Anyone re-deriving the hash (the
// broker's verify, the offline CLI, a tenant's own tooling) must build the same string,
// so field order is fixed, absent values are explicit nulls and `detail` uses sorted keys.
import { hash } from "node:crypto";

export const GENESIS_HASH = "0".repeat(64);
const CANONICAL_VERSION = 1;

/** One durable audit row as the read API, exports and listeners see it. */
export interface AuditEventRecord {
  /** Database id (decimal string); not part of the hash, only a locator. */
  id: string;
  tenantId: string;
  /** Position in the tenant's chain, starting at 1. */
  seq: number;
  /** ISO 8601, UTC, millisecond precision. */
  time: string;
  actorType: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  outcome: string;
  provider: string | null;
  keyRef: string | null;
  keyVersion: string | null;
  dekId: string | null;
  cacheHit: boolean | null;
  latencyMs: number | null;
  bytes: number | null;
  purpose: string | null;
  requestId: string | null;
  reason: string | null;
  detail: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

/** The fields covered by the hash (everything but the locator and the hashes themselves). */
export type AuditChainFields = Omit<AuditEventRecord, "id" | "prevHash" | "hash">;

/** JSON with object keys sorted (UTF-16 code unit order); `undefined` members dropped, as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "boolean":
    case "string":
      return JSON.stringify(value);
    case "bigint":
      return value.toString();
    case "object": {
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
      const obj = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(obj).sort()) {
        const v = obj[key];
        if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
        parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      return "null";
  }
}

export function canonicalEntry(f: AuditChainFields): string {
  // Built as an array so the order can never depend on how the object was assembled.
  return JSON.stringify([
    CANONICAL_VERSION,
    f.tenantId,
    f.seq,
    f.time,
    f.actorType,
    f.actorId,
    f.actorName,
    f.action,
    f.outcome,
    f.provider,
    f.keyRef,
    f.keyVersion,
    f.dekId,
    f.cacheHit,
    f.latencyMs,
    f.bytes,
    f.purpose,
    f.requestId,
    f.reason,
  ]).slice(0, -1) + `,${f.detail === null ? "null" : canonicalJson(f.detail)}]`;
}

export function sha256hex(data: string): string {
  // One-shot hash(): no Hash object per entry (the group commit hashes every entry it links).
  return hash("sha256", data, "hex");
}

export function chainHash(prevHash: string, canonical: string): string {
  return sha256hex(`${prevHash}\n${canonical}`);
}

export function hashEntry(prevHash: string, fields: AuditChainFields): string {
  return chainHash(prevHash, canonicalEntry(fields));
}

/** Picks the chain fields out of a record (or an export line) without trusting extra members. */
export function chainFieldsOf(r: AuditChainFields): AuditChainFields {
  return {
    tenantId: r.tenantId,
    seq: r.seq,
    time: r.time,
    actorType: r.actorType,
    actorId: r.actorId,
    actorName: r.actorName,
    action: r.action,
    outcome: r.outcome,
    provider: r.provider,
    keyRef: r.keyRef,
    keyVersion: r.keyVersion,
    dekId: r.dekId,
    cacheHit: r.cacheHit,
    latencyMs: r.latencyMs,
    bytes: r.bytes,
    purpose: r.purpose,
    requestId: r.requestId,
    reason: r.reason,
    detail: r.detail,
  };
}
