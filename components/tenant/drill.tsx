"use client";
// "Run revocation drill": POST /drill locks the tenant on every instance, measures the fan-out,
// re-validates the key and resumes. It needs a recent login, like lock and unlock.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, tenantPath } from "../api";
import { fmtMs, fmtTime } from "../format";
import { qk } from "../query-keys";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Alert, ErrorState } from "../ui/state";
import type { DrillReport } from "./types";


const OUTCOME_TEXT: Record<DrillReport["outcome"], string> = {
  completed: "Drill completed: locked everywhere, re-validated and resumed.",
  key_revoked: "The key failed re-validation: the tenant stays locked.",
  superseded: "Another lock happened during the drill: the tenant stays locked.",
  resumed_unverified: "Resumed, but the key could not be fully re-validated.",
};

export function RevocationDrill({ slug, locked }: { slug: string; locked: boolean }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const drill = useMutation({
    mutationFn: () => sensitive(() => api<DrillReport>(tenantPath(slug, "/drill"), { method: "POST" })),
    // The drill adds a lock to the history and audit events; nothing else changes.
    onSettled: () => Promise.all([qc.invalidateQueries({ queryKey: qk.health(slug) }), qc.invalidateQueries({ queryKey: qk.audit(slug) })]),
  });
  const r = drill.data;
  return (
    <div className="stack" style={{ gap: "0.5rem", marginTop: "1rem", borderTop: "1px solid var(--border)", paddingTop: "0.75rem" }}>
      <p style={{ margin: 0 }}>A drill locks the tenant on every instance for a moment, measures how fast, then re-validates the key and resumes.</p>
      <div>
        <Button variant="secondary" onClick={() => drill.mutate()} loading={drill.isPending} disabled={locked && !drill.isPending} aria-describedby={locked ? "drill-locked-hint" : undefined}>
          Run revocation drill
        </Button>
        {locked && !drill.isPending ? (
          <span id="drill-locked-hint" className="hint" style={{ marginLeft: "0.5rem" }}>
            Unlock first: a drill starts from an active tenant.
          </span>
        ) : null}
      </div>
      <div aria-live="polite">
        {drill.isPending ? <p className="muted">Locking, measuring fan-out and re-validating…</p> : null}
        {r ? (
          <div data-testid="drill-result" data-outcome={r.outcome}>
            <Alert tone={r.outcome === "completed" ? "success" : "warning"}>{OUTCOME_TEXT[r.outcome]}</Alert>
            <dl className="measures">
              <div>
                <dt>Lock fan-out</dt>
                <dd data-testid="drill-fanout">{r.fanoutMs === null ? `no peers` : fmtMs(r.fanoutMs)}</dd>
              </div>
              <div>
                <dt>Peers acknowledged</dt>
                <dd>{r.peers}</dd>
              </div>
              <div>
                <dt>Re-validation</dt>
                <dd data-testid="drill-revalidation">{fmtMs(r.revalidationMs)}</dd>
              </div>
              <div>
                <dt>Total (locked → resumed)</dt>
                <dd data-testid="drill-total">{fmtMs(r.totalMs)}</dd>
              </div>
              <div>
                <dt>Locked at</dt>
                <dd>{fmtTime(r.lockedAt)}</dd>
              </div>
              <div>
                <dt>Resumed at</dt>
                <dd>{r.unlockedAt ? fmtTime(r.unlockedAt) : "still locked"}</dd>
              </div>
            </dl>
          </div>
        ) : null}
        {drill.isError && !(drill.error instanceof ApiError && drill.error.code === "reauth_required") ? <ErrorState error={drill.error} title="The drill could not run" /> : null}
      </div>
    </div>
  );
}
