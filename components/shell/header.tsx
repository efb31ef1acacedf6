"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { signOut } from "next-auth/react";
import { ROLE_LABEL, type ConsoleRole } from "@/lib/auth/roles";
import { Button } from "../ui/button";

interface NavItem {
  href: string;
  label: string;
  exact?: boolean;
}

function navFor(role: ConsoleRole, slug: string | null): NavItem[] {
  if (role === "vendor_ops")
    return [
      { href: "/ops", label: "Fleet", exact: true },
      { href: "/account/security", label: "Security" },
    ];
  if (!slug) return [{ href: "/account/security", label: "Security" }];
  const base = `/t/${slug}`;
  const items: NavItem[] = [{ href: base, label: "Key health", exact: true }];
  if (role === "tenant_admin") items.push({ href: `${base}/key`, label: "Connect key" }, { href: `${base}/tokens`, label: "Service tokens" });
  items.push({ href: `${base}/audit`, label: "Audit log" });
  if (role === "tenant_admin") items.push({ href: `${base}/webhooks`, label: "Webhooks" });
  items.push({ href: `${base}/approvals`, label: "Approvals" }, { href: "/account/security", label: "Security" });
  return items;
}

export function AppHeader({ email, role, tenantSlug }: { email: string; role: ConsoleRole; tenantSlug: string | null }) {
  const pathname = usePathname();
  const items = navFor(role, tenantSlug);
  const home = role === "vendor_ops" ? "/ops" : `/t/${tenantSlug}`;
  return (
    <header className="app-header">
      <div className="app-header-inner">
        <Link href={home} className="brand">
          cmek-broker
        </Link>
        <nav className="nav" aria-label="Main">
          {items.map((i) => {
            const current = i.exact ? pathname === i.href : pathname.startsWith(i.href);
            return (
              <Link key={i.href} href={i.href} aria-current={current ? "page" : undefined}>
                {i.label}
              </Link>
            );
          })}
        </nav>
        <div className="user">
          <span title={`${email} · ${ROLE_LABEL[role]}${tenantSlug ? ` of ${tenantSlug}` : ""}`}>
            {email} · {ROLE_LABEL[role]}
            {tenantSlug ? ` of ${tenantSlug}` : ""}
          </span>
          <Button variant="ghost" size="sm" onClick={() => void signOut({ callbackUrl: "/sign-in" })}>
            Sign out
          </Button>
        </div>
      </div>
    </header>
  );
}
