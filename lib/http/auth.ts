// One resolver for every kind of caller: the vendor admin token, a tenant's service token,
// or a console session (cookie, resolved by the console's next-auth config). All yield a
// Caller, and routes state which callers they admit.
import type { FastifyRequest } from "fastify";
import type { AuditActor } from "../audit/types";
import type { Broker, ServiceCaller } from "../broker/broker";
import { BrokerError } from "../broker/errors";
import { timingSafeEqual } from "node:crypto";
import { hashToken } from "../broker/service-tokens";

export type ConsoleRole = "vendor_ops" | "tenant_admin" | "tenant_auditor";

export interface ConsoleCaller {
  kind: "console";
  userId: string;
  email: string;
  role: ConsoleRole;
  tenantId: string | null;
  tenantSlug: string | null;
  /** Epoch ms of the last password or SSO login; gates sensitive actions. */
  authTime: number;
}

export type Caller = { kind: "admin" } | ServiceCaller | ConsoleCaller;

export type ConsoleSessionResolver = (req: FastifyRequest) => Promise<ConsoleCaller | null>;

export type Access = "public" | "authenticated" | "vendor_admin" | "vendor_read" | "tenant_admin" | "tenant_read" | "service" | "service_or_read";

export function actorOf(caller: Caller): AuditActor {
  switch (caller.kind) {
    case "admin":
      return { type: "admin_token", name: "vendor-admin" };
    case "service":
      return { type: "service_token", id: caller.tokenId, name: caller.tokenName };
    case "console":
      return { type: "console_user", id: caller.userId, name: caller.email };
  }
}

export async function resolveCaller(
  req: FastifyRequest,
  broker: Broker,
  /** SHA-256 of the vendor admin token, computed once at start. */
  adminTokenHash: Buffer | undefined,
  resolveSession?: ConsoleSessionResolver,
): Promise<Caller | null> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return null;
    const token = m[1]!;
    // One hash of the presented token serves both checks (this runs on every data-path request).
    const presented = hashToken(token);
    if (adminTokenHash && timingSafeEqual(presented, adminTokenHash)) return { kind: "admin" };
    return broker.authenticateServiceToken(token, presented);
  }
  return resolveSession ? resolveSession(req) : null;
}

/**
 * Checks that `caller` may do `access` on the tenant `slug`. A console user of another tenant
 * gets tenant_not_found, as if the tenant did not exist (no existence oracle).
 */
export function authorize(caller: Caller | null, access: Access, slug: string | undefined): void {
  if (access === "public") return;
  if (!caller) throw new BrokerError("unauthenticated", "missing or invalid credentials (send Authorization: Bearer <token>)");
  const notFound = () => new BrokerError("tenant_not_found", `no tenant "${slug}"`);
  const forbidden = (why: string) => new BrokerError("forbidden", why);
  switch (access) {
    case "authenticated":
      // Any caller at all (the console's key-reference check): no tenant is involved.
      return;
    case "vendor_admin":
      if (caller.kind !== "admin") throw forbidden("only the vendor admin token may do this");
      return;
    case "vendor_read":
      // Fleet-wide views: the vendor admin token or a vendor operator; a tenant's user must not learn other tenants exist.
      if (caller.kind === "admin" || (caller.kind === "console" && caller.role === "vendor_ops")) return;
      if (caller.kind === "console") throw new BrokerError("not_found", "not found");
      throw forbidden("only the vendor admin token or a vendor operator may do this");
    case "service":
      // Tenant match is checked by the broker so that the refusal is audited in the tenant's log.
      if (caller.kind !== "service") throw forbidden("this endpoint takes a service token");
      return;
    case "tenant_admin":
    case "tenant_read":
    case "service_or_read": {
      if (caller.kind === "admin") return;
      if (caller.kind === "service") {
        if (access === "service_or_read") return;
        throw forbidden("service tokens may only encrypt, decrypt and read status");
      }
      if (caller.role === "vendor_ops") {
        if (access === "tenant_admin") throw forbidden("vendor operators cannot change a tenant's keys or locks");
        return;
      }
      if (!slug || caller.tenantSlug !== slug) throw notFound();
      if (access === "tenant_admin" && caller.role !== "tenant_admin") throw forbidden("tenant auditors have read-only access");
      return;
    }
  }
}
