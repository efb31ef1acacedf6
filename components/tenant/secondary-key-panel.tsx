"use client";
// A class's secondary key: which key it is, how much of the class it can unwrap today (the
// add_secondary re-wrap's coverage), whether unwraps are failing over to it, the failover drill,
// and removing it (its wrapped forms go with it).
import { useQueryClient } from "@tanstack/react-query";
import { api, tenantPath } from "../api";
import { fmtAgo, fmtMs, PROVIDER_LABEL } from "../format";
import { Badge } from "../ui/badge";
import { ConfirmedAction } from "./confirmed-action";
import { FailoverDrill } from "./failover-drill";
import { refreshClasses } from "./class-refresh";
import type { DataClassInfo } from "./types";

type Coverage = NonNullable<DataClassInfo["coverage"]>;

/** A class without data keys is fully covered: there is nothing the secondary could not unwrap. */
export function coveragePercent(c: Coverage): number {
  return c.deks === 0 ? 100 : Math.floor((c.wrapped / c.deks) * 100);
}

function CoverageBar({ name, coverage }: { name: string; coverage: Coverage }) {
  const pct = coveragePercent(coverage);
  return (
    <div className="stack" style={{ gap: "0.35rem" }} data-testid="secondary-coverage" data-percent={pct}>
      <div className="progress" role="progressbar" aria-label={`Secondary key coverage of ${name}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <p style={{ margin: 0 }}>
        <strong data-testid="coverage-wrapped">
          {coverage.wrapped} / {coverage.deks}
        </strong>{" "}
        data keys also wrapped under the secondary ({pct}%)
        {coverage.job ? (
          <span className="muted" data-testid="coverage-job" data-state={coverage.job.state}>
            {" "}
            · re-wrap {coverage.job.state} ({coverage.job.done} / {coverage.job.total})
          </span>
        ) : null}
      </p>
    </div>
  );
}

export function SecondaryKeyPanel({ slug, dataClass, canRemove, canDrill }: { slug: string; dataClass: DataClassInfo; canRemove: boolean; canDrill: boolean }) {
  const qc = useQueryClient();
  const s = dataClass.secondary;
  if (!s) return null;
  const { failover, name } = dataClass;
  return (
    <div className="stack" style={{ gap: "0.5rem", borderTop: "1px solid var(--border)", paddingTop: "0.75rem" }} data-testid="secondary-key">
      <h4 style={{ margin: 0 }}>Secondary key</h4>
      <dl className="kv">
        <dt>Key</dt>
        <dd>
          {PROVIDER_LABEL[s.provider] ?? s.provider} <code data-testid="secondary-key-id">{s.keyId}</code>
        </dd>
        <dt>Version</dt>
        <dd>
          <code>{s.keyVersion ?? "—"}</code>
        </dd>
        <dt>Probe</dt>
        <dd>{s.probe?.lastProbeAt ? `${s.probe.outcome ?? "—"} · ${fmtMs(s.probe.latencyMs)} · ${fmtAgo(s.probe.lastProbeAt)}` : "not yet"}</dd>
        <dt>Failover</dt>
        <dd data-testid="failover-state" data-active={failover.active}>
          {failover.active ? <Badge tone="warning">unwrapping through the secondary</Badge> : <Badge tone="success">primary serving</Badge>}{" "}
          <span className="muted">
            {failover.count} failover unwraps on this instance{failover.lastAt ? ` · last ${fmtAgo(failover.lastAt)}` : ""}
          </span>
        </dd>
      </dl>
      {dataClass.coverage ? <CoverageBar name={name} coverage={dataClass.coverage} /> : null}
      {canDrill ? <FailoverDrill slug={slug} dataClass={name} /> : null}
      {canRemove ? (
        <div>
          <ConfirmedAction
            label={`Remove secondary key of ${name}`}
            title={`Remove the secondary key of ${name}?`}
            confirmLabel="Remove secondary key"
            failureTitle="Could not remove the secondary key"
            run={() => api(tenantPath(slug, `/classes/${encodeURIComponent(name)}/secondary-key`), { method: "DELETE" })}
            onDone={() => refreshClasses(qc, slug)}
          >
            <p>
              The data keys of {name} lose their form wrapped under <code>{s.keyId}</code>. The class then depends on its primary key alone: a KMS outage of the primary makes its
              data unavailable once cached data keys expire.
            </p>
          </ConfirmedAction>
        </div>
      ) : null}
    </div>
  );
}
