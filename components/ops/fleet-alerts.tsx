"use client";
// The fleet view's open alerts on unusual key use, one row per tenant episode.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import type { z } from "zod";
import type { ZAlertList } from "@/lib/contracts/governance";
import { api } from "../api";
import { fmtAgo } from "../format";
import { qk } from "../query-keys";
import { Badge } from "../ui/badge";
import { Card, CardTitle } from "../ui/card";
import { Table, Td, Th } from "../ui/table";

type Alerts = z.infer<typeof ZAlertList>;

export function FleetAlerts() {
  const q = useQuery({ queryKey: qk.fleetAlerts, queryFn: ({ signal }) => api<Alerts>("/api/v1/fleet/alerts", { signal }), refetchInterval: 30_000 });
  const alerts = q.data?.alerts ?? [];
  if (alerts.length === 0) return null;
  return (
    <Card data-testid="fleet-alerts">
      <CardTitle>Unusual key use</CardTitle>
      <Table caption="Open alerts on unusual key use">
        <thead>
          <tr>
            <Th>Tenant</Th>
            <Th>Alert</Th>
            <Th>Subject</Th>
            <Th>Observed / threshold</Th>
            <Th>Raised</Th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.id}>
              <Td>
                <Link href={`/ops/tenants/${encodeURIComponent(a.tenantSlug ?? "")}`}>{a.tenantSlug}</Link>
              </Td>
              <Td>
                <Badge tone="warning">{a.kind}</Badge>
              </Td>
              <Td>
                <code>{a.subject}</code>
              </Td>
              <Td>
                {a.detail.observed} / {a.detail.threshold}
              </Td>
              <Td>{fmtAgo(a.raisedAt)}</Td>
            </tr>
          ))}
        </tbody>
      </Table>
    </Card>
  );
}
