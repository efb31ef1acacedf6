import type { Metadata } from "next";
import { FleetAlerts } from "@/components/ops/fleet-alerts";
import { FleetTable } from "@/components/ops/fleet-table";

export const metadata: Metadata = { title: "Fleet" };

export default function FleetPage() {
  return (
    <div className="stack">
      <FleetAlerts />
      <FleetTable />
    </div>
  );
}
