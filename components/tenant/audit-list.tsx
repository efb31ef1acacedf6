"use client";
// A compact list of recent audit events (the vendor's tenant detail page). Tenant users get the
// full dashboard in components/audit/audit-dashboard.tsx.
import { useInfiniteQuery } from "@tanstack/react-query";
import { api, ApiError, tenantPath } from "../api";
import { fmtMs, fmtTime } from "../format";
import { qk } from "../query-keys";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";
import type { AuditEvent, AuditPage } from "../audit/types";

function actorLabel(e: AuditEvent): string {
  return `${e.actorType}${e.actorName ? `: ${e.actorName}` : ""}`;
}

export function AuditList({ slug, compact = false }: { slug: string; compact?: boolean }) {
  const q = useInfiniteQuery({
    queryKey: qk.audit(slug),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }) =>
      api<AuditPage>(tenantPath(slug, `/audit?limit=${compact ? 10 : 50}${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ""}`), { signal }),
    getNextPageParam: (last) => last.nextCursor ?? null,
    refetchInterval: 5_000,
  });
  const events = q.data?.pages.flatMap((p) => p.events) ?? [];
  const body = q.isPending ? (
    <LoadingBlock label="Loading audit events" />
  ) : q.isError ? (
    q.error instanceof ApiError && q.error.status === 404 && q.error.code === "not_found" ? (
      <EmptyState title="The audit API is not available on this broker yet" />
    ) : (
      <ErrorState error={q.error} onRetry={() => void q.refetch()} />
    )
  ) : events.length === 0 ? (
    <EmptyState title="No audit events yet">
      <p>Every key access, lock and token change will be listed here.</p>
    </EmptyState>
  ) : (
    <>
      <Table caption="Audit events" data-testid="audit-table">
        <thead>
          <tr>
            <Th>Time</Th>
            <Th>Action</Th>
            <Th>Outcome</Th>
            <Th>Actor</Th>
            {compact ? null : (
              <>
                <Th>Cache</Th>
                <Th>Latency</Th>
                <Th>Purpose</Th>
                <Th>Request id</Th>
              </>
            )}
          </tr>
        </thead>
        <tbody>
          {events.map((e, i) => (
            <tr key={String(e.seq ?? i)}>
              <Td>{fmtTime(e.time)}</Td>
              <Td>
                <code>{e.action}</code>
              </Td>
              <Td>
                <Badge tone={e.outcome === "success" ? "success" : e.outcome === "unavailable" ? "warning" : "danger"}>{e.outcome}</Badge>
              </Td>
              <Td>{actorLabel(e)}</Td>
              {compact ? null : (
                <>
                  <Td>{e.cacheHit == null ? "—" : e.cacheHit ? "hit" : "miss"}</Td>
                  <Td>{fmtMs(e.latencyMs)}</Td>
                  <Td>{e.purpose ?? "—"}</Td>
                  <Td>
                    <code>{e.requestId ?? "—"}</code>
                  </Td>
                </>
              )}
            </tr>
          ))}
        </tbody>
      </Table>
      {!compact && q.hasNextPage ? (
        <div className="pager">
          <Button variant="secondary" onClick={() => void q.fetchNextPage()} loading={q.isFetchingNextPage}>
            Load older events
          </Button>
        </div>
      ) : null}
    </>
  );
  if (compact) {
    return (
      <Card>
        <CardTitle>Recent audit events</CardTitle>
        {body}
      </Card>
    );
  }
  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Audit log</h1>
          <p className="muted">Every key access and control action, newest first, in a hash-chained log.</p>
        </div>
      </div>
      {body}
    </div>
  );
}
