import type { Metadata } from "next";
import Link from "next/link";
import { AuditList } from "@/components/tenant/audit-list";
import { TenantOverview } from "@/components/tenant/overview";

export const metadata: Metadata = { title: "Tenant" };

export default async function OpsTenantPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  return (
    <div className="stack">
      <p>
        <Link href="/ops">← Fleet</Link>
      </p>
      <TenantOverview slug={slug} canLock={false} canChangeKey={false} vendorView />
      <AuditList slug={slug} compact />
    </div>
  );
}
