"use client";
// "Run failover drill": for a few seconds every instance unwraps the class's cache misses through
// its secondary key, and the drill unwraps a sample of the class's data keys through it itself.
// Nothing real is black-holed; the report says whether the secondary could take over.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, tenantPath } from "../api";
import { fmtMs, fmtTime, PROVIDER_LABEL } from "../format";
import { qk } from "../query-keys";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Alert, ErrorState } from "../ui/state";
import { refreshClasses } from "./class-refresh";
import type { FailoverDrillReport } from "./types";

const DRILL_SECONDS = [3, 10, 30] as const;

export function FailoverDrill({ slug, dataClass }: { slug: string; dataClass: string }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const [seconds, setSeconds] = useState<number>(DRILL_SECONDS[0]);
  const drill = useMutation({
    mutationFn: () =>
      sensitive(() => api<FailoverDrillReport>(tenantPath(slug, `/classes/${encodeURIComponent(dataClass)}/failover-drill`), { method: "POST", body: { seconds } })),
    onSettled: () => Promise.all([refreshClasses(qc, slug), qc.invalidateQueries({ queryKey: qk.audit(slug) })]),
  });
  const r = drill.data;
  const selectId = `drill-seconds-${dataClass}`;
  return (
    <div className="stack" style={{ gap: "0.5rem" }}>
      <div className="row">
        <label className="label" htmlFor={selectId} style={{ margin: 0 }}>
          Drill length
        </label>
        <select id={selectId} className="select" value={seconds} onChange={(e) => setSeconds(Number(e.target.value))} disabled={drill.isPending}>
          {DRILL_SECONDS.map((s) => (
            <option key={s} value={s}>
              {s} seconds
            </option>
          ))}
        </select>
        <Button size="sm" variant="secondary" onClick={() => drill.mutate()} loading={drill.isPending}>
          Run failover drill on {dataClass}
        </Button>
      </div>
      <div aria-live="polite">
        {drill.isPending ? <p className="muted">Unwrapping through the secondary key for {seconds} seconds…</p> : null}
        {r ? <FailoverDrillResult report={r} /> : null}
        {drill.isError && !(drill.error instanceof ApiError && drill.error.code === "reauth_required") ? <ErrorState error={drill.error} title="The failover drill could not run" /> : null}
      </div>
    </div>
  );
}

function FailoverDrillResult({ report: r }: { report: FailoverDrillReport }) {
  return (
    <div data-testid="failover-drill-report" data-ok={r.ok}>
      <Alert tone={r.ok ? "success" : "warning"}>
        {r.ok ? "The secondary key unwrapped everything it was asked to: it can take over." : "The secondary key did not unwrap everything: it cannot fully take over yet."}
      </Alert>
      <dl className="measures">
        <div>
          <dt>Secondary key</dt>
          <dd>
            {PROVIDER_LABEL[r.secondary.provider] ?? r.secondary.provider} <code>{r.secondary.keyId}</code>
          </dd>
        </div>
        <div>
          <dt>Unwraps (succeeded / attempted)</dt>
          <dd data-testid="drill-unwraps">
            {r.unwraps.succeeded} / {r.unwraps.attempted}
          </dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd data-testid="drill-failed">{r.unwraps.failed}</dd>
        </div>
        <div>
          <dt>Latency p50 / max</dt>
          <dd>
            {fmtMs(r.latencyMs.p50)} / {fmtMs(r.latencyMs.max)}
          </dd>
        </div>
        <div>
          <dt>From – to</dt>
          <dd>
            {fmtTime(r.startedAt)} – {fmtTime(r.endedAt)}
          </dd>
        </div>
        {r.errors.length ? (
          <div>
            <dt>Errors</dt>
            <dd>{r.errors.map((e) => `${e.code} × ${e.count}`).join(", ")}</dd>
          </div>
        ) : null}
      </dl>
    </div>
  );
}
