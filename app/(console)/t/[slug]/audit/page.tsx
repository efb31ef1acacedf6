import type { Metadata } from "next";
import { AuditDashboard } from "@/components/audit/audit-dashboard";
import { PurposeBreakdown } from "@/components/governance/purpose-breakdown";

export const metadata: Metadata = { title: "Audit log" };

export default async function AuditPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  return (
    <div className="stack">
      <AuditDashboard slug={slug} />
      <PurposeBreakdown slug={slug} />
    </div>
  );
}
