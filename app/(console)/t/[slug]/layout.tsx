import { notFound, redirect } from "next/navigation";
import type { ReactNode } from "react";
import { AlertsBanner } from "@/components/governance/alerts-banner";
import { getConsoleUser } from "@/lib/auth/config";

// Another tenant's pages do not exist for this user (same 404 as the API: no existence oracle).
export default async function TenantLayout({ children, params }: { children: ReactNode; params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  const user = await getConsoleUser();
  if (!user) redirect("/sign-in");
  if (user.role === "vendor_ops") redirect(`/ops/tenants/${encodeURIComponent(slug)}`);
  if (user.tenantSlug !== slug) notFound();
  return (
    <>
      <AlertsBanner slug={slug} />
      {children}
    </>
  );
}
