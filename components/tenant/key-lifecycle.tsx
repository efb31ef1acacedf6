"use client";
// The tenant's key lifecycle: the re-wrap job's progress, and a table of keys and versions with
// the DEKs under each, saying which old version or key no data depends on any more.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, tenantPath } from "../api";
import { fmtTime, PROVIDER_LABEL } from "../format";
import { qk } from "../query-keys";
import { useSensitiveAction } from "../reauth";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";
import type { Lifecycle } from "./types";

const POLL_MS = 2_000;
export const SAFE_TO_DISABLE = "no data depends on this version any more: it is safe to disable";

const PAUSE_TEXT: Record<string, string> = {
  tenant_locked: "paused while the tenant is locked",
  revoked: "paused: the KMS refused access (the tenant is locked)",
  retiring_key_revoked: "paused: the key being left was revoked while data still depends on it",
  kms_unavailable: "paused: the KMS is unreachable; retrying with backoff",
  kms_throttled: "paused: the KMS is throttling; retrying with backoff",
};

function fmtEta(s: number | null): string {
  if (s === null) return "—";
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 360) / 10} h`;
}

function JobProgress({ job }: { job: NonNullable<Lifecycle["job"]> }) {
  const open = job.state === "running" || job.state === "paused";
  return (
    <div className="stack" data-testid="rewrap-job" data-state={job.state}>
      <div className="row">
        <Badge tone={job.state === "completed" ? "success" : job.state === "paused" ? "warning" : "neutral"}>{job.state}</Badge>
        <span className="muted">
          {job.cause.replace("_", " ")} · started {fmtTime(job.startedAt)}
          {job.finishedAt ? ` · finished ${fmtTime(job.finishedAt)}` : ""}
        </span>
      </div>
      <div className="progress" role="progressbar" aria-label="Re-wrap progress" aria-valuemin={0} aria-valuemax={100} aria-valuenow={job.percent} data-testid="rewrap-progress">
        <div className="progress-fill" style={{ width: `${job.percent}%` }} />
      </div>
      <p>
        <strong data-testid="rewrap-done">
          {job.done} / {job.total}
        </strong>{" "}
        data keys ({job.percent}%){job.failed ? ` · ${job.failed} failed` : ""}
        {open ? ` · ${job.ratePerSecond ?? "—"} per second · ETA ${fmtEta(job.etaSeconds)}` : ""}
      </p>
      {job.state === "paused" && job.pauseCause ? <p className="muted">{PAUSE_TEXT[job.pauseCause] ?? job.pauseCause}</p> : null}
    </div>
  );
}

export function KeyLifecycle({ slug, canRewrap, canCancel }: { slug: string; canRewrap: boolean; canCancel: boolean }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const q = useQuery({ queryKey: qk.lifecycle(slug), queryFn: ({ signal }) => api<Lifecycle>(tenantPath(slug, "/lifecycle"), { signal }), refetchInterval: POLL_MS });
  const done = (l: Lifecycle) => qc.setQueryData(qk.lifecycle(slug), l);
  const start = useMutation({ mutationFn: () => api<Lifecycle>(tenantPath(slug, "/lifecycle/rewrap"), { method: "POST" }), onSuccess: done });
  const cancel = useMutation({ mutationFn: () => sensitive(() => api<Lifecycle>(tenantPath(slug, "/lifecycle/cancel"), { method: "POST" })), onSuccess: done });
  if (q.isPending) return <Card><LoadingBlock label="Loading key lifecycle" lines={3} /></Card>;
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load the key lifecycle" />;
  const l = q.data;
  const open = l.job && (l.job.state === "running" || l.job.state === "paused");
  const failure = [start.error, cancel.error].find((e) => e && !(e instanceof ApiError && e.code === "reauth_required"));

  return (
    <Card aria-labelledby="lifecycle-title" data-testid="key-lifecycle">
      <CardTitle>
        <span id="lifecycle-title">Key lifecycle</span>
      </CardTitle>
      <p className="muted">
        {l.totalDeks} data keys · {l.staleDeks} not yet under the current key version
      </p>
      {l.job ? <JobProgress job={l.job} /> : <p className="muted">No re-wrap job has run for this tenant.</p>}
      <div className="row" style={{ marginBlock: "0.75rem" }}>
        {canRewrap && !open && l.staleDeks > 0 ? (
          <Button onClick={() => start.mutate()} loading={start.isPending}>
            Re-wrap now
          </Button>
        ) : null}
        {canCancel && open ? (
          <Button variant="danger" onClick={() => cancel.mutate()} loading={cancel.isPending}>
            {l.job?.cause === "key_switch" ? "Cancel and return to the earlier key" : "Cancel re-wrap"}
          </Button>
        ) : null}
      </div>
      {failure ? <ErrorState error={failure} title="Could not change the re-wrap job" /> : null}
      <Table caption="Data keys per key and version" data-testid="lifecycle-versions">
        <thead>
          <tr>
            <Th>Key</Th>
            <Th>Status</Th>
            <Th>Version</Th>
            <Th>Data keys</Th>
            <Th>Note</Th>
          </tr>
        </thead>
        <tbody>
          {l.keys.flatMap((k) =>
            k.versions.map((v, i) => (
              <tr key={`${k.connectionId} ${v.version ?? ""}`} data-testid="lifecycle-version" data-status={k.status} data-deks={v.deks}>
                <Td>{i === 0 ? <code>{`${PROVIDER_LABEL[k.provider] ?? k.provider} ${k.keyRef}`}</code> : null}</Td>
                <Td>{i === 0 ? k.status : null}</Td>
                <Td>
                  <code>{v.version ?? "unknown"}</code>
                  {v.current ? " (current)" : ""}
                </Td>
                <Td>{v.deks}</Td>
                <Td>
                  {v.safeToDisable ? <span data-testid="safe-to-disable">{SAFE_TO_DISABLE}</span> : null}
                  {i === 0 && k.safeToRevoke ? <span data-testid="safe-to-revoke"> · no data depends on this key any more: revoking it has no effect</span> : null}
                </Td>
              </tr>
            )),
          )}
        </tbody>
      </Table>
    </Card>
  );
}
