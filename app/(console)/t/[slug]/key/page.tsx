import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { ConnectKeyWizard } from "@/components/tenant/connect-key";
import { getConsoleUser } from "@/lib/auth/config";
import { can } from "@/lib/auth/permissions";

export const metadata: Metadata = { title: "Connect key" };

export default async function ConnectKeyPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  const user = await getConsoleUser();
  if (!can(user?.role, "key.connect")) notFound();
  return <ConnectKeyWizard slug={slug} />;
}
