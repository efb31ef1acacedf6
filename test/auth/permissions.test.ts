// The permission table, walked role by action against an expectation written out here (not
// derived from the table), plus authorize()'s refusals: which error, in which order.
import { describe, expect, test } from "vitest";
import type { Caller } from "@/lib/auth/caller";
import { authorize } from "@/lib/auth/authorize";
import { ACTIONS, can, PERMISSIONS, REAUTH_WINDOW_MS, requiresFreshSignIn, ROLES, type Action, type Role } from "@/lib/auth/permissions";
import { BrokerError } from "@/lib/broker/errors";

// A = allowed, F = allowed with a fresh sign-in (console users), - = denied.
// Columns: vendor_admin, vendor_ops, tenant_admin, tenant_auditor, service
const EXPECTED: Record<Action, string> = {
  "tenant.create": "A - - - -",
  "tenant.view": "A A A A -",
  "tenant.settings": "F - F - -",
  "tenant.lock": "F - F - -",
  "tenant.unlock": "F - F - -",
  "tenant.shred": "F - F - -",
  "key.connect": "F - F - -",
  "key.check": "A A A A A",
  "class.view": "A A A A -",
  "class.create": "F - F - -",
  "class.remove": "F - F - -",
  "class.secondary_remove": "F - F - -",
  "class.failover_drill": "F - F - -",
  "lifecycle.view": "A A A A -",
  "lifecycle.rewrap": "A - A - -",
  "lifecycle.cancel": "F - F - -",
  "token.create": "F - F - -",
  "token.list": "A A A A -",
  "token.revoke": "A - A - -",
  "drill.run": "F - F - -",
  "status.read": "A A A A A",
  "audit.read": "A A A A -",
  "audit.export": "A A A A -",
  "audit.verify": "A A A A -",
  "audit.retention": "F - F - -",
  "webhook.list": "A A A A -",
  "webhook.create": "F - F - -",
  "webhook.delete": "F - F - -",
  "governance.view": "A A A A -",
  "governance.policy": "F - F - -",
  "governance.break_glass": "- - F - -",
  "governance.break_glass_revoke": "A - A - -",
  "quorum.view": "A A A A -",
  "quorum.policy": "- - F - -",
  "approval.list": "A A A A -",
  "approval.approve": "- - F - -",
  "approval.cancel": "- - A - -",
  "account.factors": "- A A A -",
  "account.factor_enroll": "- F F F -",
  "account.step_up": "- A A A -",
  "fleet.view": "A A - - -",
  "data.encrypt": "- - - - A",
  "data.decrypt": "- - - - A",
};

const COLUMNS: Role[] = ["vendor_admin", "vendor_ops", "tenant_admin", "tenant_auditor", "service"];
const TENANT = { id: "11111111-1111-4111-8111-111111111111", slug: "acme" };
const NOW = 10_000_000;

function callerFor(role: Role, authTime = NOW): Caller {
  switch (role) {
    case "vendor_admin":
      return { kind: "admin" };
    case "service":
      return { kind: "service", tokenId: "tok", tokenName: "svc", tenantId: TENANT.id };
    case "vendor_ops":
      return { kind: "console", userId: "u-ops", email: "ops@v.example", role, tenantId: null, tenantSlug: null, authTime };
    default:
      return { kind: "console", userId: `u-${role}`, email: `${role}@acme.example`, role, tenantId: TENANT.id, tenantSlug: TENANT.slug, authTime };
  }
}

function outcome(fn: () => void): string {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof BrokerError) return e.code;
    throw e;
  }
}

describe("permission table", () => {
  test("the expectation lists exactly the table's actions and roles", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ACTIONS].sort());
    expect([...ROLES].sort()).toEqual([...COLUMNS].sort());
  });

  const cases = ACTIONS.flatMap((action) => COLUMNS.map((role, i) => ({ action, role, want: EXPECTED[action].split(" ")[i]! })));
  test.each(cases)("$role on $action: $want", ({ action, role, want }) => {
    const fresh = outcome(() => authorize(callerFor(role), action, TENANT, NOW));
    const stale = outcome(() => authorize(callerFor(role, NOW - REAUTH_WINDOW_MS - 1), action, TENANT, NOW));
    expect(can(role, action)).toBe(want !== "-");
    if (want === "-") {
      expect(fresh).not.toBe("ok");
      expect(stale).not.toBe("ok");
      return;
    }
    expect(fresh).toBe("ok");
    expect(requiresFreshSignIn(action)).toBe(want === "F");
    const console = role === "vendor_ops" || role === "tenant_admin" || role === "tenant_auditor";
    // Only console sessions have a sign-in time; tokens are never asked to re-authenticate.
    expect(stale).toBe(want === "F" && console ? "reauth_required" : "ok");
  });

  test("re-authentication covers lock, unlock, shredding, key change and its cancellation, data classes and their secondary keys, drills, token creation, webhooks, settings, audit retention, governance policies, break-glass, the quorum, approvals and factor enrolment", () => {
    const fresh = ACTIONS.filter((a) => PERMISSIONS[a].freshSignIn).sort();
    expect(fresh).toEqual([
      "account.factor_enroll",
      "approval.approve",
      "audit.retention",
      "class.create",
      "class.failover_drill",
      "class.remove",
      "class.secondary_remove",
      "drill.run",
      "governance.break_glass",
      "governance.policy",
      "key.connect",
      "lifecycle.cancel",
      "quorum.policy",
      "tenant.lock",
      "tenant.settings",
      "tenant.shred",
      "tenant.unlock",
      "token.create",
      "webhook.create",
      "webhook.delete",
    ]);
  });
});

describe("authorize", () => {
  const other = { id: "22222222-2222-4222-8222-222222222222", slug: "globex" };

  test("no caller is unauthenticated (401), whatever the action", () => {
    for (const a of ACTIONS) expect(outcome(() => authorize(null, a, TENANT))).toBe("unauthenticated");
  });

  test("a console user of another tenant gets tenant_not_found for every tenant action, even ones its role may not do", () => {
    for (const role of ["tenant_admin", "tenant_auditor"] as const) {
      for (const a of ACTIONS.filter((x) => PERMISSIONS[x].scope === "tenant")) {
        expect(outcome(() => authorize(callerFor(role), a, other, NOW))).toBe("tenant_not_found");
        expect(outcome(() => authorize(callerFor(role), a, undefined, NOW))).toBe("tenant_not_found");
      }
    }
  });

  test("a stale session of another tenant is answered 404 before any re-auth prompt (no oracle)", () => {
    expect(outcome(() => authorize(callerFor("tenant_admin", 0), "tenant.lock", other, NOW))).toBe("tenant_not_found");
  });

  test("tenant users asking for fleet views get not_found; tokens get forbidden", () => {
    expect(outcome(() => authorize(callerFor("tenant_admin"), "fleet.view", undefined, NOW))).toBe("not_found");
    expect(outcome(() => authorize(callerFor("service"), "fleet.view"))).toBe("forbidden");
  });

  test("vendor operators cannot change keys or locks, auditors are read-only", () => {
    for (const a of ["key.connect", "tenant.lock", "tenant.unlock", "drill.run"] as const) {
      expect(outcome(() => authorize(callerFor("vendor_ops"), a, TENANT, NOW))).toBe("forbidden");
      expect(outcome(() => authorize(callerFor("tenant_auditor"), a, TENANT, NOW))).toBe("forbidden");
    }
    expect(() => authorize(callerFor("vendor_ops"), "tenant.lock", TENANT, NOW)).toThrow("vendor operators cannot change a tenant's keys or locks");
    expect(() => authorize(callerFor("tenant_auditor"), "tenant.lock", TENANT, NOW)).toThrow("tenant auditors have read-only access");
  });

  test("a service token of another tenant is refused once the tenant's id is known", () => {
    const svc = callerFor("service");
    expect(outcome(() => authorize(svc, "status.read", { slug: "globex" }))).toBe("ok");
    expect(outcome(() => authorize(svc, "status.read", other))).toBe("forbidden");
    expect(outcome(() => authorize(svc, "data.decrypt", other))).toBe("forbidden");
    expect(outcome(() => authorize(svc, "data.decrypt", TENANT))).toBe("ok");
  });

  test("the admin token and console users on data routes are told the route takes a service token", () => {
    expect(() => authorize(callerFor("vendor_admin"), "data.encrypt", TENANT)).toThrow("this endpoint takes a service token");
    expect(() => authorize(callerFor("tenant_admin"), "data.encrypt", TENANT, NOW)).toThrow("this endpoint takes a service token");
  });

  test("a sign-in exactly at the window's edge is still fresh; one millisecond later is not", () => {
    expect(outcome(() => authorize(callerFor("tenant_admin", NOW - REAUTH_WINDOW_MS), "tenant.lock", TENANT, NOW))).toBe("ok");
    expect(outcome(() => authorize(callerFor("tenant_admin", NOW - REAUTH_WINDOW_MS - 1), "tenant.lock", TENANT, NOW))).toBe("reauth_required");
  });
});
