import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { TokensPanel } from "@/components/tenant/tokens";
import { getConsoleUser } from "@/lib/auth/config";
import { can } from "@/lib/auth/permissions";

export const metadata: Metadata = { title: "Service tokens" };

export default async function TokensPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  const user = await getConsoleUser();
  if (!can(user?.role, "token.create")) notFound();
  return <TokensPanel slug={slug} />;
}
