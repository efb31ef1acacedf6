// Console role labels and home pages. What each role may do is in permissions.ts (the one
// permission table); the UI asks it with can(role, action).
import type { ConsoleRole } from "./caller";

export type { ConsoleRole } from "./caller";
export { can, isFreshAuth, REAUTH_WINDOW_MS } from "./permissions";

export const ROLE_LABEL = {
  vendor_ops: "Vendor operations",
  tenant_admin: "Tenant admin",
  tenant_auditor: "Tenant auditor",
} as const satisfies Record<ConsoleRole, string>;

export function homePath(user: { role: ConsoleRole; tenantSlug: string | null }): string {
  return user.role === "vendor_ops" ? "/ops" : user.tenantSlug ? `/t/${user.tenantSlug}` : "/sign-in";
}
