"use client";
// The audit dashboard: a live table (SSE, falling back to polling), filters applied by the
// list API, search by request id, a detail dialog, exports, chain verification and a chart of
// operations per minute by outcome (counted by GET /audit/activity, not in the browser).
import { useInfiniteQuery, useMutation, useQuery, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, AUDIT_RANGES, EMPTY_AUDIT_FILTERS, auditSearchParams, isUnfiltered, type AuditFilterState, type AuditRange } from "@/lib/audit/catalog";
import { api, tenantPath } from "../api";
import { fmtMs, fmtTime } from "../format";
import { qk } from "../query-keys";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { Field } from "../ui/input";
import { Alert, EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";
import { ActivityChart } from "./activity-chart";
import { AuditEventDetail } from "./event-detail";
import { LabelledSelect } from "./labelled-select";
import { outcomeTone } from "./outcomes";
import type { AuditActivity, AuditEvent, AuditPage, AuditVerifyResult } from "./types";
import { useAuditStream, type StreamMode } from "./use-audit-stream";

const PAGE_SIZE = 50;
const POLL_MS = 5_000;
/** Live events kept on top of the first page; older ones stay reachable through "Load older". */
const LIVE_CAP = 500;
const FRESH_MAX = 50;

const MODE_LABEL: Record<StreamMode, string> = {
  connecting: "Connecting to the live feed…",
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: `Live feed unavailable: refreshing every ${POLL_MS / 1000} s`,
};

function actorLabel(e: AuditEvent): string {
  return `${e.actorType}${e.actorName ? `: ${e.actorName}` : e.actorId ? `: ${e.actorId}` : ""}`;
}

export function AuditDashboard({ slug }: { slug: string }) {
  const qc = useQueryClient();
  const [filters, setFilters] = useState<AuditFilterState>(EMPTY_AUDIT_FILTERS);
  const [draft, setDraft] = useState<AuditFilterState>(EMPTY_AUDIT_FILTERS);
  const [search, setSearch] = useState("");
  const [selected, setSelected] = useState<AuditEvent | null>(null);
  const [fresh, setFresh] = useState<Set<number>>(() => new Set());
  const [liveCount, setLiveCount] = useState(0);
  // Filters are part of the key, so each combination is its own cached list.
  const listKey = qk.auditList(slug, filters as unknown as Record<string, string>);

  // Coalesce bursts of live events into one refetch of what cannot be patched in place.
  const timers = useRef<{ list?: ReturnType<typeof setTimeout>; chart?: ReturnType<typeof setTimeout> }>({});
  useEffect(() => () => {
    clearTimeout(timers.current.list);
    clearTimeout(timers.current.chart);
  }, []);
  const later = (which: "list" | "chart", fn: () => void, ms: number) => {
    if (timers.current[which]) return;
    timers.current[which] = setTimeout(() => {
      timers.current[which] = undefined;
      fn();
    }, ms);
  };

  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const onEvent = useCallback(
    (ev: AuditEvent) => {
      setLiveCount((n) => n + 1);
      later("chart", () => void qc.invalidateQueries({ queryKey: qk.auditActivity(slug) }), 2_000);
      const f = filtersRef.current;
      const key = qk.auditList(slug, f as unknown as Record<string, string>);
      if (!isUnfiltered(f)) {
        // Whether it matches is the API's call (same filter code as the list), not re-implemented here.
        later("list", () => void qc.invalidateQueries({ queryKey: key }), 500);
        return;
      }
      qc.setQueryData<InfiniteData<AuditPage, string | null>>(key, (old) => {
        if (!old || !old.pages[0]) return old;
        if (old.pages.some((p) => p.events.some((e) => e.seq === ev.seq))) return old;
        const first = old.pages[0];
        const events = [ev, ...first.events].sort((a, b) => b.seq - a.seq).slice(0, LIVE_CAP);
        return { ...old, pages: [{ ...first, events }, ...old.pages.slice(1)] };
      });
      // Only the latest few rows are highlighted; the set stays small on a busy tenant.
      setFresh((s) => new Set([...s, ev.seq].slice(-FRESH_MAX)));
    },
    [qc, slug],
  );

  const mode = useAuditStream(slug, { onEvent, onReconnect: () => void qc.invalidateQueries({ queryKey: qk.audit(slug) }) });

  const list = useInfiniteQuery({
    queryKey: listKey,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }) => {
      const p = auditSearchParams(filters);
      p.set("limit", String(PAGE_SIZE));
      if (pageParam) p.set("cursor", pageParam);
      return api<AuditPage>(tenantPath(slug, `/audit?${p}`), { signal });
    },
    getNextPageParam: (last) => last.nextCursor ?? null,
    placeholderData: (prev) => prev,
    refetchInterval: mode === "polling" ? POLL_MS : false,
  });
  const activity = useQuery({
    queryKey: qk.auditActivity(slug),
    queryFn: ({ signal }) => api<AuditActivity>(tenantPath(slug, "/audit/activity?minutes=60"), { signal }),
    refetchInterval: mode === "polling" ? POLL_MS : 30_000,
  });

  const verify = useMutation({ mutationFn: () => api<AuditVerifyResult>(tenantPath(slug, "/audit/verify")) });

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters({ ...draft, requestId: filters.requestId });
  };
  const reset = () => {
    setDraft(EMPTY_AUDIT_FILTERS);
    setSearch("");
    setFilters(EMPTY_AUDIT_FILTERS);
  };
  const onSearch = (e: FormEvent) => {
    e.preventDefault();
    setFilters((f) => ({ ...f, requestId: search.trim() }));
  };

  const events = list.data?.pages.flatMap((p) => p.events) ?? [];
  const filtered = !isUnfiltered(filters) || filters.range !== "all";

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Audit log</h1>
          <p className="muted">Every key access and control action, newest first, in a hash-chained log you can export and verify offline.</p>
        </div>
        <div className="toolbar">
          <a className="btn btn-secondary" href={tenantPath(slug, "/audit/export?format=jsonl")} download data-testid="export-jsonl">
            Export JSONL
          </a>
          <a className="btn btn-secondary" href={tenantPath(slug, "/audit/export?format=csv")} download data-testid="export-csv">
            Export CSV
          </a>
          <Button onClick={() => verify.mutate()} loading={verify.isPending}>
            Verify chain
          </Button>
        </div>
      </div>

      <div aria-live="polite">
        {verify.isSuccess ? (
          verify.data.ok ? (
            <Alert tone="success">
              <span data-testid="verify-result">
                Chain intact: {verify.data.count} entries verified
                {verify.data.firstSeq !== null ? ` (#${verify.data.firstSeq}–#${verify.data.lastSeq})` : ""}, {verify.data.checkpoints} signed checkpoint
                {verify.data.checkpoints === 1 ? "" : "s"}
                {verify.data.signedThroughSeq !== null ? `, signed through #${verify.data.signedThroughSeq}` : ""}.
              </span>
            </Alert>
          ) : (
            <Alert tone="error">
              <span data-testid="verify-result">
                Chain broken after {verify.data.count} good entries: first bad entry #{verify.data.firstBadEntry?.seq}
                {verify.data.firstBadEntry?.id ? ` (row ${verify.data.firstBadEntry.id})` : ""}: {verify.data.firstBadEntry?.problem}
              </span>
            </Alert>
          )
        ) : null}
        {verify.isError ? <ErrorState error={verify.error} title="Could not verify the chain" /> : null}
      </div>

      <Card aria-labelledby="activity-title">
        <CardTitle>
          <span id="activity-title">Operations per minute by outcome (last hour)</span>
        </CardTitle>
        {activity.isPending ? (
          <LoadingBlock label="Loading activity" lines={2} />
        ) : activity.isError ? (
          <ErrorState error={activity.error} onRetry={() => void activity.refetch()} title="Could not load activity" />
        ) : (
          <ActivityChart data={activity.data} />
        )}
      </Card>

      <Card aria-labelledby="filters-title">
        <CardTitle>
          <span id="filters-title">Filters</span>
        </CardTitle>
        <form className="filters" onSubmit={apply} aria-label="Audit filters">
          <LabelledSelect label="Time range" value={draft.range} onChange={(v) => setDraft({ ...draft, range: v as AuditRange })}>
            {Object.entries(AUDIT_RANGES).map(([k, r]) => (
              <option key={k} value={k}>
                {r.label}
              </option>
            ))}
          </LabelledSelect>
          <LabelledSelect label="Action" value={draft.action} onChange={(v) => setDraft({ ...draft, action: v })}>
            <option value="">Any action</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </LabelledSelect>
          <LabelledSelect label="Outcome" value={draft.outcome} onChange={(v) => setDraft({ ...draft, outcome: v })}>
            <option value="">Any outcome</option>
            {AUDIT_OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </LabelledSelect>
          <Field label="Actor (type or id)" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} placeholder="e.g. service_token" />
          <Field label="Purpose" value={draft.purpose} onChange={(e) => setDraft({ ...draft, purpose: e.target.value })} placeholder="e.g. billing" />
          <div className="row">
            <Button type="submit">Apply filters</Button>
            <Button variant="secondary" onClick={reset}>
              Reset
            </Button>
          </div>
        </form>
        <form role="search" aria-label="Search by request id" onSubmit={onSearch} className="row" style={{ marginTop: "0.75rem", alignItems: "flex-end" }}>
          <div style={{ flex: "1 1 320px" }}>
            <Field label="Request id" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="the x-request-id of a call" />
          </div>
          <Button type="submit" variant="secondary">
            Search
          </Button>
        </form>
      </Card>

      <div className="toolbar">
        <span className="live-dot" data-mode={mode} data-testid="stream-mode" role="status">
          {MODE_LABEL[mode]}
        </span>
        <span className="muted" aria-live="polite">
          {liveCount ? `${liveCount} new event${liveCount === 1 ? "" : "s"} received live` : ""}
        </span>
        <span className="spacer" />
        {list.isFetching && !list.isPending ? <span className="muted">Refreshing…</span> : null}
      </div>

      {list.isPending ? (
        <LoadingBlock label="Loading audit events" lines={6} />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} title="Could not load the audit log" />
      ) : events.length === 0 ? (
        <Card>
          <EmptyState title={filtered ? "No events match these filters" : "No audit events yet"}>
            <p>{filtered ? "Widen the time range or reset the filters." : "Every key access, lock and token change will appear here as it happens."}</p>
          </EmptyState>
        </Card>
      ) : (
        <>
          <Table caption="Audit events, newest first" data-testid="audit-table" aria-busy={list.isFetching || undefined}>
            <thead>
              <tr>
                <Th>#</Th>
                <Th>Time</Th>
                <Th>Action</Th>
                <Th>Outcome</Th>
                <Th>Actor</Th>
                <Th>Purpose</Th>
                <Th>Latency</Th>
                <Th>Request id</Th>
                <Th>
                  <span className="sr-only">Details</span>
                </Th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={e.seq} data-seq={e.seq} data-action={e.action} className={fresh.has(e.seq) ? "row-new" : undefined}>
                  <Td>{e.seq}</Td>
                  <Td>{fmtTime(e.time)}</Td>
                  <Td>
                    <code>{e.action}</code>
                  </Td>
                  <Td>
                    <Badge tone={outcomeTone(e.outcome)}>{e.outcome}</Badge>
                  </Td>
                  <Td>{actorLabel(e)}</Td>
                  <Td>{e.purpose ?? "—"}</Td>
                  <Td>{fmtMs(e.latencyMs)}</Td>
                  <Td>
                    <code>{e.requestId ?? "—"}</code>
                  </Td>
                  <Td>
                    <Button variant="ghost" size="sm" onClick={() => setSelected(e)}>
                      Details<span className="sr-only"> of event {e.seq}</span>
                    </Button>
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
          {list.hasNextPage ? (
            <div className="pager">
              <Button variant="secondary" onClick={() => void list.fetchNextPage()} loading={list.isFetchingNextPage}>
                Load older events
              </Button>
            </div>
          ) : null}
        </>
      )}
      <AuditEventDetail event={selected} onClose={() => setSelected(null)} />
    </div>
  );
}
