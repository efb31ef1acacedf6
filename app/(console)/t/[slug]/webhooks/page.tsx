import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { WebhooksPanel } from "@/components/tenant/webhooks";
import { getConsoleUser } from "@/lib/auth/config";
import { can } from "@/lib/auth/permissions";

export const metadata: Metadata = { title: "Webhooks" };

export default async function WebhooksPage({ params }: { params: Promise<{ slug: string }> }) {
  const { slug } = await params;
  const user = await getConsoleUser();
  // Adding and removing endpoints is the admin's (the API enforces it too); auditors read the log.
  if (!can(user?.role, "webhook.create")) notFound();
  return <WebhooksPanel slug={slug} />;
}
