import type { ReactNode } from "react";

export type BadgeTone = "success" | "danger" | "warning" | "neutral";

export function Badge({ tone = "neutral", children, testId }: { tone?: BadgeTone; children: ReactNode; testId?: string }) {
  return (
    <span className={`badge badge-${tone}`} data-testid={testId}>
      {children}
    </span>
  );
}

const HEALTH_TONE: Record<string, BadgeTone> = { ok: "success", active: "success", locked: "danger", unreachable: "warning", pending: "neutral" };
const HEALTH_LABEL: Record<string, string> = { ok: "healthy", active: "active", locked: "locked", unreachable: "KMS unreachable", pending: "pending" };

/** Tenant state or key health, always with a word as well as a colour. */
export function HealthBadge({ value, testId }: { value: string; testId?: string }) {
  return (
    <Badge tone={HEALTH_TONE[value] ?? "neutral"} testId={testId}>
      {HEALTH_LABEL[value] ?? value}
    </Badge>
  );
}
