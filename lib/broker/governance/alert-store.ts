// Alert episodes in the database (table usage_alert): the partial unique index on open rows
// makes "one alert per episode" hold across instances. The instance whose insert opens the
// episode writes the audit entry alert.raised, which the webhook dispatcher delivers as a signed
// event like every audit entry; resolving writes alert.resolved the same way.
import type { AuditSink } from "../../audit/types";
import type { Database } from "../../db/database";

export type AlertKind = "rate_spike" | "refusal_spike" | "new_token" | "new_purpose" | "off_hours";

export interface Anomaly {
  tenantId: string;
  kind: AlertKind;
  subject: string;
  /** The minute the anomaly was seen in (start of the minute). */
  at: Date;
  detail: { observed: number; baseline: number; threshold: number; minute: string };
}

const ACTOR = { type: "system" as const, name: "usage-monitor" };

export class AlertStore {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditSink,
  ) {}

  /** Opens an episode per new anomaly, or extends the open one. */
  async see(anomalies: Anomaly[]): Promise<void> {
    for (const a of anomalies) {
      const rows = await this.db.query<{ id: string; inserted: boolean }>(
        `INSERT INTO usage_alert (tenant_id, kind, subject, detail, raised_at, last_seen_at) VALUES ($1, $2, $3, $4::jsonb, $5, $5)
         ON CONFLICT (tenant_id, kind, subject) WHERE resolved_at IS NULL
         DO UPDATE SET last_seen_at = GREATEST(usage_alert.last_seen_at, EXCLUDED.last_seen_at)
         RETURNING id, (xmax = 0) AS inserted`,
        [a.tenantId, a.kind, a.subject, JSON.stringify(a.detail), a.at],
      );
      const row = rows[0];
      if (!row?.inserted) continue;
      await this.audit.record({
        tenantId: a.tenantId,
        actor: ACTOR,
        action: "alert.raised",
        outcome: "success",
        reason: a.kind,
        detail: { alertId: row.id, kind: a.kind, subject: a.subject, ...a.detail },
      });
    }
  }

  /** Resolves the tenant's episodes not seen since `before`. */
  async resolveQuiet(tenantId: string, before: Date, at: Date): Promise<void> {
    const rows = await this.db.query<{ id: string; kind: string; subject: string; detail: { baseline?: number; threshold?: number } }>(
      `UPDATE usage_alert SET resolved_at = $2 WHERE tenant_id = $1 AND resolved_at IS NULL AND last_seen_at < $3 RETURNING id, kind, subject, detail`,
      [tenantId, at, before],
    );
    for (const r of rows) {
      await this.audit.record({
        tenantId,
        actor: ACTOR,
        action: "alert.resolved",
        outcome: "success",
        reason: r.kind,
        detail: { alertId: r.id, kind: r.kind, subject: r.subject, observed: 0, baseline: r.detail.baseline ?? 0, threshold: r.detail.threshold ?? 0, minute: at.toISOString() },
      });
    }
  }
}
