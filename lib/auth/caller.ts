// Who is calling: the vendor admin token, a tenant's service token, or a console user. One
// resolver (lib/http/auth.ts) turns every credential into a Caller; the permission table
// (permissions.ts) decides what each may do, and the audit log names it through actorOf.
import type { FastifyRequest } from "fastify";
import type { AuditActor } from "../audit/types";

/** The console's roles; the other two principals (admin token, service token) are not users. */
export type ConsoleRole = "vendor_ops" | "tenant_admin" | "tenant_auditor";

export interface AdminCaller {
  kind: "admin";
  /** Names the caller in the audit log (seed scripts); the HTTP admin token is "vendor-admin". */
  name?: string;
}

/** What a service token may do (issue 12); null = unrestricted. Checked by lib/broker/token-scope.ts. */
export interface TokenScope {
  operations: ReadonlyArray<"encrypt" | "decrypt"> | null;
  /** Class names (`default` included when listed); the token may use no other class. */
  dataClasses: readonly string[] | null;
}

export interface ServiceCaller {
  kind: "service";
  tokenId: string;
  tokenName: string;
  tenantId: string;
  /** The token's scope, read with the token (cached with it): no query on the data path. Absent = unrestricted. */
  scope?: TokenScope;
  /**
   * The caller's audit actor, built once when the token is resolved so that the data path
   * does not build it again for every audit entry of the request.
   */
  actor?: AuditActor;
}

export interface ConsoleCaller {
  kind: "console";
  userId: string;
  email: string;
  role: ConsoleRole;
  tenantId: string | null;
  tenantSlug: string | null;
  /** Epoch ms of the last password or SSO login; gates sensitive actions (freshSignIn). */
  authTime: number;
  /** The user has a verified passkey or TOTP factor: sensitive actions then need a step-up, not a password. */
  hasFactor?: boolean;
  /** Epoch ms of the user's last step-up (passkey or TOTP assertion); 0 when none. */
  stepUpTime?: number;
  /** The user's tenant requires step-up for all its admins (tenant_quorum.require_step_up). */
  stepUpRequired?: boolean;
}

export type Caller = AdminCaller | ServiceCaller | ConsoleCaller;

export type ConsoleSessionResolver = (req: FastifyRequest) => Promise<ConsoleCaller | null>;

export function actorOf(caller: Caller): AuditActor {
  switch (caller.kind) {
    case "admin":
      return { type: "admin_token", name: caller.name ?? "vendor-admin" };
    case "service":
      return caller.actor ?? { type: "service_token", id: caller.tokenId, name: caller.tokenName };
    case "console":
      return { type: "console_user", id: caller.userId, name: caller.email };
  }
}
