// Per-minute counts of audit events, for the console's "operations per minute by outcome"
// chart. Counted in SQL (one GROUP BY over the tenant's last hour) rather than in the browser
// from a page of events, so the chart is right even when the hour holds more than one page.
import type { SqlExecutor } from "../db/database";
import { assertTenantId } from "./query";

export { ACTIVITY_MAX_MINUTES } from "./catalog";
import { ACTIVITY_MAX_MINUTES } from "./catalog";

export interface MinuteBucket {
  /** Start of the minute, ISO 8601 UTC. */
  minute: string;
  total: number;
  /** Count per outcome; outcomes with no events that minute are absent. */
  outcomes: Record<string, number>;
}

export interface AuditActivity {
  from: string;
  to: string;
  minutes: MinuteBucket[];
  totals: Record<string, number>;
}

const MINUTE = 60_000;

/**
 * Turns sparse (minute, key, count) rows into one bucket per minute from `from` to `to`,
 * zero-filled, so a chart's x axis is time rather than "minutes that had events".
 */
export function fillMinutes(rows: Array<{ minute: Date | string; key: string; n: number | string }>, from: Date, to: Date): { minutes: MinuteBucket[]; totals: Record<string, number> } {
  const start = Math.floor(from.getTime() / MINUTE) * MINUTE;
  const end = Math.floor(to.getTime() / MINUTE) * MINUTE;
  const byMinute = new Map<number, MinuteBucket>();
  for (let t = start; t <= end; t += MINUTE) byMinute.set(t, { minute: new Date(t).toISOString(), total: 0, outcomes: {} });
  const totals: Record<string, number> = {};
  for (const r of rows) {
    const b = byMinute.get(Math.floor(new Date(r.minute).getTime() / MINUTE) * MINUTE);
    if (!b) continue;
    const n = Number(r.n);
    b.outcomes[r.key] = (b.outcomes[r.key] ?? 0) + n;
    b.total += n;
    totals[r.key] = (totals[r.key] ?? 0) + n;
  }
  return { minutes: [...byMinute.values()], totals };
}

/** Events of one tenant per minute and outcome over the last `minutes` minutes. */
export async function tenantAuditActivity(db: SqlExecutor, tenantId: string, opts: { minutes?: number; now?: Date } = {}): Promise<AuditActivity> {
  assertTenantId(tenantId);
  const minutes = Math.max(1, Math.min(ACTIVITY_MAX_MINUTES, Math.trunc(opts.minutes ?? 60)));
  const to = opts.now ?? new Date();
  const from = new Date(to.getTime() - (minutes - 1) * MINUTE);
  const fromMinute = new Date(Math.floor(from.getTime() / MINUTE) * MINUTE);
  const rows = await db.query<{ minute: Date; key: string; n: string | number }>(
    `SELECT date_trunc('minute', time) AS minute, outcome AS key, count(*) AS n
       FROM audit_event
      WHERE tenant_id = $1 AND time >= $2
      GROUP BY 1, 2`,
    [tenantId, fromMinute.toISOString()],
  );
  return { from: fromMinute.toISOString(), to: to.toISOString(), ...fillMinutes(rows, fromMinute, to) };
}
