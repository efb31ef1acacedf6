import type { Metadata } from "next";
import { AuditDashboard } from "@/components/audit/audit-dashboard";

export const metadata: Metadata = { title: "Audit log" };

export default async function AuditPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  return <AuditDashboard slug={slug} />;
}
