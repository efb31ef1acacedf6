import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { ConnectKeyWizard } from "@/components/tenant/connect-key";
import { getConsoleUser } from "@/lib/auth/config";
import { can } from "@/lib/auth/permissions";
import { ZDataClassName } from "@/lib/contracts/classes";

export const metadata: Metadata = { title: "Connect key" };

/** ?class=pii&role=secondary opens the wizard for one class's key (the class cards link here). */
export default async function ConnectKeyPage({ params, searchParams }: { params: Promise<{ slug: string }>; searchParams: Promise<{ class?: string; role?: string }> }) {
  const { slug } = await params;
  const query = await searchParams;
  const user = await getConsoleUser();
  if (!can(user?.role, "key.connect")) notFound();
  // An unusable name falls back to default; the API validates the class again on connect.
  const named = ZDataClassName.safeParse(query.class);
  const dataClass = named.success ? named.data : "default";
  return <ConnectKeyWizard key={`${dataClass} ${query.role ?? ""}`} slug={slug} initialTarget={{ dataClass, role: query.role === "secondary" ? "secondary" : "primary" }} />;
}
