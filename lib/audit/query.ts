// The tenant's read API over its audit log: filters, newest first, keyset cursor on seq.
// Every query is scoped by tenant id; there is deliberately no way to query across tenants.
import type { SqlExecutor } from "../db/database";
import type { AuditEventRecord } from "./canonical";
import { AUDIT_COLUMNS, isUuid, rowToRecord } from "./chain";

export interface AuditQueryFilters {
  /** Inclusive lower bound on entry time. */
  from?: Date;
  /** Exclusive upper bound on entry time. */
  to?: Date;
  action?: string | string[];
  outcome?: string | string[];
  /** Matches actor type or actor id. */
  actor?: string;
  actorType?: string;
  actorId?: string;
  keyRef?: string;
  purpose?: string;
  requestId?: string;
}

export interface AuditPage {
  events: AuditEventRecord[];
  /** Pass back as `cursor` for the next (older) page; null when there is none. */
  nextCursor: string | null;
}

/** A caller mistake (bad tenant id, filter or cursor): the HTTP layer answers 400. */
export class AuditQueryError extends Error {
  override readonly name = "AuditQueryError";
}

export const AUDIT_PAGE_MAX = 1000;
export const AUDIT_PAGE_DEFAULT = 100;

export function encodeCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string): number {
  const m = /^seq:(\d{1,16})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m) throw new AuditQueryError("invalid cursor");
  return Number(m[1]);
}

export function assertTenantId(tenantId: unknown): asserts tenantId is string {
  if (!isUuid(tenantId)) throw new AuditQueryError("a tenant id (uuid) is required");
}

function validDate(d: unknown, name: string): Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new AuditQueryError(`${name} must be a valid time`);
  return d;
}

/** Builds the WHERE clause; parameters start at $1 with the tenant id. */
export function buildAuditWhere(tenantId: string, f: AuditQueryFilters): { where: string; params: unknown[] } {
  assertTenantId(tenantId);
  const params: unknown[] = [tenantId];
  const clauses = ["tenant_id = $1"];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    clauses.push(sql(`$${params.length}`));
  };
  const oneOrMany = (col: string, v: string | string[] | undefined) => {
    if (v === undefined) return;
    const list = (Array.isArray(v) ? v : [v]).filter((x) => typeof x === "string" && x !== "");
    if (list.length === 0) return;
    const ps = list.map((x) => {
      params.push(x);
      return `$${params.length}`;
    });
    clauses.push(`${col} IN (${ps.join(",")})`);
  };
  if (f.from !== undefined) add((p) => `time >= ${p}`, validDate(f.from, "from").toISOString());
  if (f.to !== undefined) add((p) => `time < ${p}`, validDate(f.to, "to").toISOString());
  oneOrMany("action", f.action);
  oneOrMany("outcome", f.outcome);
  if (f.actor) add((p) => `(actor_type = ${p} OR actor_id = ${p})`, f.actor);
  if (f.actorType) add((p) => `actor_type = ${p}`, f.actorType);
  if (f.actorId) add((p) => `actor_id = ${p}`, f.actorId);
  if (f.keyRef) add((p) => `key_ref = ${p}`, f.keyRef);
  if (f.purpose) add((p) => `purpose = ${p}`, f.purpose);
  if (f.requestId) add((p) => `request_id = ${p}`, f.requestId);
  return { where: clauses.join(" AND "), params };
}

export async function listAuditEvents(
  db: SqlExecutor,
  tenantId: string,
  filters: AuditQueryFilters = {},
  page: { limit?: number; cursor?: string | null } = {},
): Promise<AuditPage> {
  const limit = Math.max(1, Math.min(AUDIT_PAGE_MAX, Math.trunc(page.limit ?? AUDIT_PAGE_DEFAULT) || AUDIT_PAGE_DEFAULT));
  const { where, params } = buildAuditWhere(tenantId, filters);
  let sql = `SELECT ${AUDIT_COLUMNS} FROM audit_event WHERE ${where}`;
  if (page.cursor) {
    params.push(decodeCursor(page.cursor));
    sql += ` AND seq < $${params.length}`;
  }
  sql += ` ORDER BY seq DESC LIMIT ${limit + 1}`;
  const rows = await db.query(sql, params);
  const events = rows.slice(0, limit).map(rowToRecord);
  const last = events[events.length - 1];
  return { events, nextCursor: rows.length > limit && last ? encodeCursor(last.seq) : null };
}
