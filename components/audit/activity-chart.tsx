"use client";
// Operations per minute by outcome, with a one-line summary for screen readers and tests.
import { StackedBarChart } from "../ui/bar-chart";
import { OUTCOME_SERIES } from "./outcomes";
import type { AuditActivity } from "./types";

export function ActivityChart({ data }: { data: AuditActivity }) {
  const total = Object.values(data.totals).reduce((a, n) => a + n, 0);
  const peak = Math.max(0, ...data.minutes.map((m) => m.total));
  const totals: Partial<Record<string, number>> = data.totals;
  const parts = OUTCOME_SERIES.filter((s) => totals[s.key]).map((s) => `${totals[s.key]} ${s.label}`);
  const summary = total
    ? `${total} operations in the last ${data.minutes.length} minutes (${parts.join(", ")}); peak ${peak} per minute.`
    : `No operations in the last ${data.minutes.length} minutes.`;
  return <StackedBarChart testId="activity-chart" buckets={data.minutes.map((m) => ({ at: m.minute, values: m.outcomes }))} series={OUTCOME_SERIES} summary={summary} />;
}
