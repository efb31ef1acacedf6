import { notFound, redirect } from "next/navigation";
import type { ReactNode } from "react";
import { getConsoleUser } from "@/lib/auth/config";

export default async function OpsLayout({ children }: { children: ReactNode }) {
  const user = await getConsoleUser();
  if (!user) redirect("/sign-in");
  if (user.role !== "vendor_ops") notFound();
  return <>{children}</>;
}
