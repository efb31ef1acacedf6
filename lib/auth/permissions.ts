// The one permission table: every principal (role) against every action, and which actions
// need a fresh sign-in. Declared once here; the operations (lib/broker/operations) check their
// own action with authorize() (lib/auth/authorize.ts), the HTTP layer checks the route's action
// before parsing a body, and the console shows or hides controls with can(). A client-safe
// catalog: it imports nothing but types (.dependency-cruiser.cjs).
//
// Re-authentication covers every action that can read or destroy tenant data or weaken its
// protection: key changes, lock and unlock, drills, token creation, webhooks, settings and
// audit retention. Only console sessions carry a sign-in time; tokens are not subject to it.
import type { Caller, ConsoleRole } from "./caller";

export type { ConsoleRole } from "./caller";

export const ROLES = ["vendor_admin", "vendor_ops", "tenant_admin", "tenant_auditor", "service"] as const;
/** vendor_admin is the BROKER_ADMIN_TOKEN, service a tenant's service token; the rest are console roles. */
export type Role = (typeof ROLES)[number];

/** tenant: names one tenant (console users of another tenant see 404); fleet: cross-tenant views; global: neither. */
export type ActionScope = "tenant" | "fleet" | "global";

export interface ActionRule {
  roles: readonly Role[];
  freshSignIn: boolean;
  scope: ActionScope;
}

const READERS = ["vendor_admin", "vendor_ops", "tenant_admin", "tenant_auditor"] as const;
const ADMINS = ["vendor_admin", "tenant_admin"] as const;
const CONSOLE_USERS = ["vendor_ops", "tenant_admin", "tenant_auditor"] as const;

export const PERMISSIONS = {
  "tenant.create": { roles: ["vendor_admin"], freshSignIn: false, scope: "global" },
  "tenant.view": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "tenant.settings": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "tenant.lock": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "tenant.unlock": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  // Crypto-shredding destroys every data key of the tenant for good (lib/broker/operations/shred-tenant.ts).
  "tenant.shred": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "key.connect": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "key.check": { roles: ROLES, freshSignIn: false, scope: "global" },
  // Data classes (issue 12): a class and its keys are key changes like key.connect (which also
  // covers a class's primary and secondary key). Removing a secondary weakens availability only.
  "class.view": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "class.create": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "class.remove": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "class.secondary_remove": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  // A failover drill forces unwraps through the secondary for a moment; it never black-holes a real key.
  "class.failover_drill": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "lifecycle.view": { roles: READERS, freshSignIn: false, scope: "tenant" },
  // Starting a re-wrap only moves DEKs onto the tenant's own current key; cancelling returns them to an earlier key.
  "lifecycle.rewrap": { roles: ADMINS, freshSignIn: false, scope: "tenant" },
  "lifecycle.cancel": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "token.create": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "token.list": { roles: READERS, freshSignIn: false, scope: "tenant" },
  // Revoking narrows access; it needs the admin role but not a fresh sign-in.
  "token.revoke": { roles: ADMINS, freshSignIn: false, scope: "tenant" },
  "drill.run": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "status.read": { roles: [...READERS, "service"], freshSignIn: false, scope: "tenant" },
  "audit.read": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "audit.export": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "audit.verify": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "audit.retention": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "webhook.list": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "webhook.create": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "webhook.delete": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  // Governance (issue 13): policies restrict the vendor's own use of the key. Break-glass is the
  // tenant's exception to its own windows, so only the tenant's admin may grant it.
  "governance.view": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "governance.policy": { roles: ADMINS, freshSignIn: true, scope: "tenant" },
  "governance.break_glass": { roles: ["tenant_admin"], freshSignIn: true, scope: "tenant" },
  // Ending an exception early narrows access, like revoking a token.
  "governance.break_glass_revoke": { roles: ADMINS, freshSignIn: false, scope: "tenant" },
  // M-of-N approvals (issue 13): only the tenant's own admins set the quorum and approve; the
  // vendor admin token can neither (it can still lock). Cancelling narrows, like revoking.
  "quorum.view": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "quorum.policy": { roles: ["tenant_admin"], freshSignIn: true, scope: "tenant" },
  "approval.list": { roles: READERS, freshSignIn: false, scope: "tenant" },
  "approval.approve": { roles: ["tenant_admin"], freshSignIn: true, scope: "tenant" },
  "approval.cancel": { roles: ["tenant_admin"], freshSignIn: false, scope: "tenant" },
  // A console user's own step-up factors: listing and stepping up need only the session;
  // enrolling or removing one needs a fresh sign-in (a step-up once the user has a factor).
  "account.factors": { roles: CONSOLE_USERS, freshSignIn: false, scope: "global" },
  "account.factor_enroll": { roles: CONSOLE_USERS, freshSignIn: true, scope: "global" },
  "account.step_up": { roles: CONSOLE_USERS, freshSignIn: false, scope: "global" },
  "fleet.view": { roles: ["vendor_admin", "vendor_ops"], freshSignIn: false, scope: "fleet" },
  "data.encrypt": { roles: ["service"], freshSignIn: false, scope: "tenant" },
  "data.decrypt": { roles: ["service"], freshSignIn: false, scope: "tenant" },
} as const satisfies Record<string, ActionRule>;

export type Action = keyof typeof PERMISSIONS;
export const ACTIONS = Object.keys(PERMISSIONS) as Action[];

/** Role -> allowed, per action: can(), and so authorize(), is two property reads on the data path. */
const GRANTS = Object.fromEntries(
  ACTIONS.map((a) => [a, Object.fromEntries(ROLES.map((r) => [r, (PERMISSIONS[a].roles as readonly Role[]).includes(r)]))]),
) as Record<Action, Record<Role, boolean>>;

/** Sensitive actions need a password (or SSO) login this recent. */
export const REAUTH_WINDOW_MS = 5 * 60 * 1000;

export function isFreshAuth(authTime: number, now = Date.now()): boolean {
  return Number.isFinite(authTime) && now - authTime <= REAUTH_WINDOW_MS;
}

export function roleOf(caller: Caller): Role {
  return caller.kind === "admin" ? "vendor_admin" : caller.kind === "service" ? "service" : caller.role;
}

/** May `role` do `action` at all (ignoring tenant and sign-in age)? The console hides what this denies. */
export function can(role: Role | null | undefined, action: Action): boolean {
  return !!role && GRANTS[action][role];
}

export function requiresFreshSignIn(action: Action): boolean {
  return PERMISSIONS[action].freshSignIn;
}

/** Console roles (for the UI); a subset of Role. */
export const CONSOLE_ROLES = ["vendor_ops", "tenant_admin", "tenant_auditor"] as const satisfies readonly ConsoleRole[];
