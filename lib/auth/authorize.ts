// authorize(): the permission table (lib/auth/permissions.ts) applied to one caller, as the
// operations and the HTTP layer check it. Apart from the table, which the console imports as a
// client-safe catalog, because refusing throws the domain's BrokerError.
import { BrokerError } from "../broker/errors";
import type { Caller, ConsoleCaller } from "./caller";
import { can, isFreshAuth, PERMISSIONS, roleOf, type Action, type ActionRule, type Role } from "./permissions";

/** The tenant an action names: its slug (from the URL) and, once resolved, its id. A bare string is the slug. */
export interface TenantTarget {
  slug?: string;
  id?: string;
}

/**
 * Throws unless `caller` may do `action` on `tenant`. A console user of another tenant gets
 * tenant_not_found, as if the tenant did not exist (no existence oracle); tenant users asking
 * for fleet views get not_found. A service token of another tenant is refused only when the
 * tenant's id is known (the data operations check it themselves, to audit the refusal first).
 */
export function authorize(caller: Caller | null, action: Action, tenant?: TenantTarget | string, now?: number): void {
  if (!caller) throw new BrokerError("unauthenticated", "missing or invalid credentials (send Authorization: Bearer <token>)");
  const rule: ActionRule = PERMISSIONS[action];
  if (caller.kind === "console" && caller.role !== "vendor_ops" && rule.scope === "tenant" && !sameTenant(caller, tenant)) {
    throw new BrokerError("tenant_not_found", `no tenant "${(typeof tenant === "string" ? tenant : tenant?.slug) ?? ""}"`);
  }
  const role = roleOf(caller);
  if (!can(role, action)) throw refusal(caller, role, action, rule);
  if (caller.kind === "service" && typeof tenant === "object" && tenant.id !== undefined && caller.tenantId !== tenant.id) {
    throw new BrokerError("forbidden", "this token does not belong to this tenant");
  }
  if (rule.freshSignIn && caller.kind === "console") checkFreshness(caller, action, now);
}

/**
 * A user with a factor (or whose tenant requires one) proves presence with a passkey or TOTP
 * assertion (step-up), not a password. Enrolling the first factor is the one sensitive action a
 * user without a factor can still do with a fresh password, so a tenant's requirement can be met.
 */
function checkFreshness(caller: ConsoleCaller, action: Action, now?: number): void {
  const needsStepUp = caller.hasFactor === true || (caller.stepUpRequired === true && action !== "account.factor_enroll");
  if (needsStepUp) {
    if (isFreshAuth(caller.stepUpTime ?? 0, now)) return;
    throw new BrokerError(
      "step_up_required",
      caller.hasFactor ? "confirm with your passkey or authenticator code to do this" : "your tenant requires a passkey or authenticator code for this; enroll one on the security page",
      { enrolled: caller.hasFactor === true },
    );
  }
  if (!isFreshAuth(caller.authTime, now)) throw new BrokerError("reauth_required", "confirm your password to do this (last sign-in was more than 5 minutes ago)");
}

function sameTenant(caller: { tenantId: string | null; tenantSlug: string | null }, tenant: TenantTarget | string | undefined): boolean {
  if (typeof tenant === "string") return caller.tenantSlug === tenant;
  if (!tenant || (tenant.slug === undefined && tenant.id === undefined)) return false;
  if (tenant.slug !== undefined && caller.tenantSlug !== tenant.slug) return false;
  if (tenant.id !== undefined && caller.tenantId !== tenant.id) return false;
  return true;
}

function refusal(caller: Caller, role: Role, action: Action, rule: ActionRule): BrokerError {
  if (rule.scope === "fleet") {
    // A tenant's user must not learn that other tenants exist.
    if (caller.kind === "console") return new BrokerError("not_found", "not found");
    return new BrokerError("forbidden", "only the vendor admin token or a vendor operator may do this");
  }
  if (rule.roles.length === 1 && rule.roles[0] === "vendor_admin") return new BrokerError("forbidden", "only the vendor admin token may do this");
  if (action === "data.encrypt" || action === "data.decrypt") return new BrokerError("forbidden", "this endpoint takes a service token");
  switch (role) {
    case "service":
      return new BrokerError("forbidden", "service tokens may only encrypt, decrypt and read status");
    case "vendor_ops":
      return new BrokerError("forbidden", "vendor operators cannot change a tenant's keys or locks");
    case "tenant_auditor":
      return new BrokerError("forbidden", "tenant auditors have read-only access");
    default:
      return new BrokerError("forbidden", `${role} may not do ${action}`);
  }
}
