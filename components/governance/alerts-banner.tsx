"use client";
// The tenant console's banner for open alerts on unusual key use (rate or refusal spikes, first
// use of a token or purpose, use outside the usual hours). Polled: alerts open and close by minute.
import { useQuery } from "@tanstack/react-query";
import type { z } from "zod";
import type { ZAlertList } from "@/lib/contracts/governance";
import { api, tenantPath } from "../api";
import { fmtAgo } from "../format";
import { qk } from "../query-keys";
import { Alert } from "../ui/state";

type Alerts = z.infer<typeof ZAlertList>;

const WHAT: Record<string, string> = {
  rate_spike: "Data requests far above the usual rate",
  refusal_spike: "Refused requests far above the usual rate",
  new_token: "A token used for the first time",
  new_purpose: "A purpose used for the first time",
  off_hours: "Use outside your usual hours",
};

export function AlertsBanner({ slug }: { slug: string }) {
  const q = useQuery({ queryKey: qk.alerts(slug), queryFn: ({ signal }) => api<Alerts>(tenantPath(slug, "/alerts"), { signal }), refetchInterval: 30_000 });
  const open = q.data?.alerts ?? [];
  if (open.length === 0) return null;
  return (
    <div data-testid="alerts-banner" role="status">
      <Alert tone="warning">
        <strong>Unusual key use:</strong>{" "}
        {open.map((a, i) => (
          <span key={a.id}>
            {i ? "; " : ""}
            {WHAT[a.kind] ?? a.kind} ({a.subject}, {a.detail.observed} in the minute of {new Date(a.detail.minute).toLocaleTimeString()}, raised {fmtAgo(a.raisedAt)})
          </span>
        ))}
        . Check the audit log; the alert closes by itself once use is back to normal.
      </Alert>
    </div>
  );
}
