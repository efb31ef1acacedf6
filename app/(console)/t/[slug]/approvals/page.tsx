import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { QuorumPanel } from "@/components/quorum/approvals";
import { getConsoleUser } from "@/lib/auth/config";
import { can } from "@/lib/auth/permissions";

export const metadata: Metadata = { title: "Approvals" };

export default async function ApprovalsPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  const user = await getConsoleUser();
  if (!user || !can(user.role, "approval.list")) notFound();
  return <QuorumPanel slug={slug} admin={can(user.role, "approval.approve")} userEmail={user.email} />;
}
