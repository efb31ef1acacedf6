// One resolver for every kind of caller: the vendor admin token, a tenant's service token,
// or a console session (cookie, resolved by the console's next-auth config). All yield a
// Caller (lib/auth/caller.ts); what each may do is the permission table's (lib/auth/permissions.ts).
import type { FastifyRequest } from "fastify";
import { timingSafeEqual } from "node:crypto";
import type { Caller, ConsoleSessionResolver } from "../auth/caller";
import type { Action } from "../auth/permissions";
import type { BrokerContext } from "../broker/context";
import { hashToken } from "../broker/service-tokens";

export type { Caller, ConsoleCaller, ConsoleRole, ConsoleSessionResolver, ServiceCaller } from "../auth/caller";
export { actorOf } from "../auth/caller";
export { authorize } from "../auth/authorize";

/** What a route does: an action of the permission table, or "public" (no credentials needed). */
export type Access = Action | "public";

export async function resolveCaller(
  req: FastifyRequest,
  ctx: Pick<BrokerContext, "tokens">,
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
    const rec = await ctx.tokens.verify(token, presented);
    if (!rec) return null;
    return { kind: "service", tokenId: rec.id, tokenName: rec.name, tenantId: rec.tenantId, scope: rec.scope, actor: { type: "service_token", id: rec.id, name: rec.name } };
  }
  return resolveSession ? resolveSession(req) : null;
}
