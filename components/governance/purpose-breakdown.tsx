"use client";
// The audit dashboard's "accesses by purpose": data requests of the last 24 hours per purpose
// code, with how many were refused.
import { useQuery } from "@tanstack/react-query";
import type { z } from "zod";
import type { ZAuditPurposes } from "@/lib/contracts/governance";
import { api, tenantPath } from "../api";
import { qk } from "../query-keys";
import { Card, CardTitle } from "../ui/card";
import { EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";

type Purposes = z.infer<typeof ZAuditPurposes>;

export function PurposeBreakdown({ slug }: { slug: string }) {
  const q = useQuery({ queryKey: qk.auditPurposes(slug), queryFn: ({ signal }) => api<Purposes>(tenantPath(slug, "/audit/purposes?minutes=1440"), { signal }) });
  return (
    <Card data-testid="audit-purposes">
      <CardTitle>Accesses by purpose (last 24 hours)</CardTitle>
      {q.isPending ? (
        <LoadingBlock label="Counting accesses" />
      ) : q.isError ? (
        <ErrorState error={q.error} onRetry={() => void q.refetch()} />
      ) : q.data.purposes.length === 0 ? (
        <EmptyState title="No data requests in the last 24 hours" />
      ) : (
        <Table caption="Data requests per purpose">
          <thead>
            <tr>
              <Th>Purpose</Th>
              <Th>Requests</Th>
              <Th>Allowed</Th>
              <Th>Refused</Th>
            </tr>
          </thead>
          <tbody>
            {q.data.purposes.map((p) => (
              <tr key={p.purpose ?? "(none)"}>
                <Td>{p.purpose ? <code>{p.purpose}</code> : <span className="muted">none given</span>}</Td>
                <Td>{p.total}</Td>
                <Td>{p.success}</Td>
                <Td>{p.denied}</Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </Card>
  );
}
