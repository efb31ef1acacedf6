import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { ReauthProvider } from "@/components/reauth";
import { AppHeader } from "@/components/shell/header";
import { getConsoleUser } from "@/lib/auth/config";

export const dynamic = "force-dynamic";

// A UX guard: the API enforces access on every request regardless of what pages show.
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const user = await getConsoleUser();
  if (!user) redirect("/sign-in");
  return (
    <ReauthProvider hasPassword={user.hasPassword}>
      <AppHeader email={user.email} role={user.role} tenantSlug={user.tenantSlug} />
      <main id="main" className="page">
        {children}
      </main>
    </ReauthProvider>
  );
}
