import { AUDIT_OUTCOMES } from "@/lib/audit/catalog";
import type { BadgeTone } from "../ui/badge";
import type { BarSeries } from "../ui/bar-chart";

// Colours chosen for 3:1 contrast against white; the legend and badges always add the word.
const OUTCOME_COLOR: Record<string, string> = {
  success: "#1e7a3a",
  denied: "#b42318",
  revoked: "#7a1a12",
  locked: "#c2410c",
  invalid: "#6d28d9",
  unavailable: "#a16207",
  error: "#4b5563",
};

export const OUTCOME_SERIES: BarSeries[] = AUDIT_OUTCOMES.map((o) => ({ key: o, label: o, color: OUTCOME_COLOR[o] ?? "#4b5563" }));

export function outcomeTone(outcome: string): BadgeTone {
  return outcome === "success" ? "success" : outcome === "unavailable" ? "warning" : "danger";
}
