// The scope check and the scope's storage form (lib/broker/token-scope.ts, service-tokens.ts):
// pure functions, no broker needed.
import { describe, expect, test } from "vitest";
import type { Caller, TokenScope } from "@/lib/auth/caller";
import { columnsOfScope, scopeOfColumns } from "@/lib/broker/service-tokens";
import { describeScope, scopeDenied, scopeView, tokenAllows } from "@/lib/broker/token-scope";

const service = (operations: TokenScope["operations"], dataClasses: TokenScope["dataClasses"]): Caller => ({
  kind: "service",
  tokenId: "t",
  tokenName: "svc",
  tenantId: "tenant",
  scope: { operations, dataClasses },
});

describe("tokenAllows", () => {
  test("operations and classes both have to allow; no class asks about the operation alone", () => {
    const billingReader = service(["decrypt"], ["billing"]);
    expect(tokenAllows(billingReader, "decrypt", "billing")).toBe(true);
    expect(tokenAllows(billingReader, "decrypt", "pii")).toBe(false);
    expect(tokenAllows(billingReader, "decrypt", "default")).toBe(false);
    expect(tokenAllows(billingReader, "encrypt", "billing")).toBe(false);
    expect(tokenAllows(billingReader, "decrypt")).toBe(true);
    expect(tokenAllows(billingReader, "encrypt")).toBe(false);
  });

  test("null is unrestricted; callers without a scope (admin, console, older tokens) are not limited here", () => {
    expect(tokenAllows(service(null, null), "encrypt", "pii")).toBe(true);
    expect(tokenAllows({ kind: "service", tokenId: "t", tokenName: "svc", tenantId: "x" }, "decrypt", "pii")).toBe(true);
    expect(tokenAllows({ kind: "admin" }, "decrypt", "pii")).toBe(true);
  });

  test("the refusal names the operation and the class, and says the token's scope", () => {
    const e = scopeDenied(service(["encrypt"], ["pii", "billing"]), "decrypt", "pii");
    expect(e.code).toBe("scope_denied");
    expect(e.extra).toEqual({ dataClass: "pii", operation: "decrypt" });
    expect(e.message).toBe("this token may not decrypt (its scope: encrypt only · pii, billing)");
    expect(scopeDenied(service(null, ["billing"]), "encrypt", "pii").message).toContain("may not use data class 'pii'");
    expect(scopeDenied(service(["decrypt"], null), "encrypt").extra).toEqual({ operation: "encrypt" });
    expect(describeScope(undefined)).toBe("encrypt and decrypt · every class");
  });
});

describe("storage form", () => {
  test("both operations and every class are stored empty (unrestricted); lists are sorted and unique", () => {
    expect(columnsOfScope({ operations: ["decrypt", "encrypt"], dataClasses: null })).toEqual({ operations: [], dataClasses: [] });
    expect(columnsOfScope({ operations: ["decrypt"], dataClasses: ["pii", "billing", "pii"] })).toEqual({ operations: ["decrypt"], dataClasses: ["billing", "pii"] });
    expect(scopeOfColumns([], [])).toEqual({ operations: null, dataClasses: null });
    expect(scopeView(scopeOfColumns([], ["pii"]))).toEqual({ operations: ["encrypt", "decrypt"], dataClasses: ["pii"] });
  });

  test("an operation this version does not know is dropped, never widened to unrestricted", () => {
    const scope = scopeOfColumns(["sign"], []);
    expect(scope.operations).toEqual([]);
    expect(tokenAllows(service(scope.operations, scope.dataClasses), "encrypt", "default")).toBe(false);
    expect(tokenAllows(service(scope.operations, scope.dataClasses), "decrypt", "default")).toBe(false);
  });
});
