// POST /api/v1/tenants/{slug}/tokens: a service token, returned once and stored hashed, with its
// scope (issue 12): the operations it may run (both by default) and the data classes it may use
// (every class by default). Each class named must be one the tenant has, so a typo cannot make a
// token that silently serves nothing.
import { actorOf } from "../../auth/caller";
import type { TokenScope } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { requireTenant } from "../tenant-lookup";
import { DEFAULT_CLASS } from "../tenant-registry";
import { approvalGate } from "../governance/approval-gate";
import { columnsOfScope, scopeOfColumns } from "../service-tokens";
import { scopeView, type ScopedOperation } from "../token-scope";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZCreateTokenRequest, ZCreateTokenResponse } from "../../contracts/tokens";

export interface CreateTokenInput {
  name: string;
  /** Absent: both. */
  operations?: readonly ScopedOperation[];
  /** Absent or null: every class. */
  dataClasses?: readonly string[] | null;
}

export async function createToken({
  ctx,
  actor,
  tenant: slug,
  requestId,
  approved,
  name,
  operations,
  dataClasses,
}: TenantOperation<Pick<BrokerContext, "tokens" | "audit" | "bus" | "registry" | "cache" | "db" | "clock">> & CreateTokenInput) {
  authorize(actor, "token.create", slug);
  const tenant = await requireTenant(ctx, slug);
  // One canonical form (sorted, both operations = unrestricted): what is stored, approved and audited.
  const columns = columnsOfScope({ operations: operations ?? null, dataClasses: dataClasses ?? null });
  await requireClasses(ctx, tenant.id, columns.dataClasses);
  const scope = scopeOfColumns(columns.operations, columns.dataClasses);
  const shown = scopeView(scope);
  // The approval holds the scope too: approving a decrypt-only token must not let an unrestricted one be created.
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "token.create", params: approvalParams(name, scope) });
  const created = await ctx.tokens.create(tenant.id, name, scope);
  await ctx.audit.record({ tenantId: tenant.id, actor: actorOf(actor), action: "token.create", outcome: "success", requestId, detail: { tokenId: created.id, name, prefix: created.prefix, ...shown } });
  return { id: created.id, token: created.token, name, prefix: created.prefix, createdAt: created.createdAt.toISOString(), scope: shown };
}

/**
 * The parameters an approval request holds (and the requester's repeat must match exactly). An
 * unrestricted token keeps the shape of the approvals made before scopes existed ({name}).
 */
function approvalParams(name: string, scope: TokenScope): Record<string, unknown> {
  return {
    name,
    ...(scope.operations ? { operations: scope.operations } : {}),
    ...(scope.dataClasses ? { dataClasses: scope.dataClasses } : {}),
  };
}

/** 400 naming the first class the tenant does not have (`default` always exists). */
async function requireClasses(ctx: Pick<BrokerContext, "db">, tenantId: string, names: readonly string[]): Promise<void> {
  const wanted = names.filter((n) => n !== DEFAULT_CLASS);
  if (!wanted.length) return;
  const rows = await ctx.db.prisma.dataClass.findMany({ where: { tenantId, name: { in: wanted } }, select: { name: true } });
  const have = new Set(rows.map((r) => r.name));
  const missing = wanted.find((n) => !have.has(n));
  if (missing !== undefined) throw new BrokerError("invalid_request", `dataClasses: the tenant has no data class '${missing}'`, { dataClass: missing });
}
