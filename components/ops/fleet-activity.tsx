"use client";
// Fleet-wide KMS calls and errors per minute over the last hour (GET /api/v1/fleet/kms-activity,
// counted from every instance's audit entries), as two inline-SVG bar charts.
import { useQuery } from "@tanstack/react-query";
import { api } from "../api";
import { fmtPct } from "../format";
import { qk } from "../query-keys";
import type { FleetKmsActivity } from "./types";
import { StackedBarChart } from "../ui/bar-chart";
import { Card, CardTitle } from "../ui/card";
import { ErrorState, LoadingBlock } from "../ui/state";

const ACTIVITY_POLL_MS = 15_000;

export function FleetActivity() {
  const q = useQuery({
    queryKey: qk.fleetActivity,
    queryFn: ({ signal }) => api<FleetKmsActivity>("/api/v1/fleet/kms-activity?minutes=60", { signal }),
    refetchInterval: ACTIVITY_POLL_MS,
  });
  if (q.isPending)
    return (
      <Card>
        <LoadingBlock label="Loading fleet KMS activity" lines={2} />
      </Card>
    );
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load fleet KMS activity" />;
  const d = q.data;
  const peakCalls = Math.max(0, ...d.minutes.map((m) => m.calls));
  const peakErrors = Math.max(0, ...d.minutes.map((m) => m.errors));
  const n = d.minutes.length;
  return (
    <div className="grid-2" data-testid="fleet-activity">
      <Card aria-labelledby="fleet-calls-title">
        <CardTitle>
          <span id="fleet-calls-title">Fleet KMS calls per minute (last hour)</span>
        </CardTitle>
        <StackedBarChart
          testId="fleet-calls-chart"
          buckets={d.minutes.map((m) => ({ at: m.minute, values: { ok: m.calls - m.errors, errors: m.errors } }))}
          series={[
            { key: "ok", label: "succeeded", color: "#1f4fd1" },
            { key: "errors", label: "failed", color: "#b42318" },
          ]}
          summary={d.calls ? `${d.calls} KMS calls across all tenants in the last ${n} minutes; peak ${peakCalls} per minute.` : `No KMS calls in the last ${n} minutes.`}
        />
      </Card>
      <Card aria-labelledby="fleet-errors-title">
        <CardTitle>
          <span id="fleet-errors-title">Fleet KMS errors per minute (last hour)</span>
        </CardTitle>
        <StackedBarChart
          testId="fleet-errors-chart"
          buckets={d.minutes.map((m) => ({ at: m.minute, values: { errors: m.errors } }))}
          series={[{ key: "errors", label: "errors", color: "#b42318" }]}
          summary={
            d.errors
              ? `${d.errors} KMS errors in the last ${n} minutes (${fmtPct(d.calls ? d.errors / d.calls : null)} of calls); peak ${peakErrors} per minute.`
              : `No KMS errors in the last ${n} minutes.`
          }
        />
      </Card>
    </div>
  );
}
