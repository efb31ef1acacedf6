// Console permissions as data: one map used by the API's re-auth rule, the guard layouts and
// the UI (which hides what a role cannot do). Enforcement stays in lib/http/auth.ts.
export type ConsoleRole = "vendor_ops" | "tenant_admin" | "tenant_auditor";

export const ROLE_LABEL = {
  vendor_ops: "Vendor operations",
  tenant_admin: "Tenant admin",
  tenant_auditor: "Tenant auditor",
} as const satisfies Record<ConsoleRole, string>;

export const PERMISSIONS = {
  "tenant.view": ["vendor_ops", "tenant_admin", "tenant_auditor"],
  "key.change": ["tenant_admin"],
  "tenant.lock": ["tenant_admin"],
  "token.manage": ["tenant_admin"],
  "audit.read": ["vendor_ops", "tenant_admin", "tenant_auditor"],
  "fleet.view": ["vendor_ops"],
} as const satisfies Record<string, readonly ConsoleRole[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: ConsoleRole | null | undefined, permission: Permission): boolean {
  return !!role && (PERMISSIONS[permission] as readonly ConsoleRole[]).includes(role);
}

/** Lock, unlock, key changes and drills need a password (or SSO) login this recent. */
export const REAUTH_WINDOW_MS = 5 * 60 * 1000;

export function isFreshAuth(authTime: number, now = Date.now()): boolean {
  return Number.isFinite(authTime) && now - authTime <= REAUTH_WINDOW_MS;
}

export function homePath(user: { role: ConsoleRole; tenantSlug: string | null }): string {
  return user.role === "vendor_ops" ? "/ops" : user.tenantSlug ? `/t/${user.tenantSlug}` : "/sign-in";
}
