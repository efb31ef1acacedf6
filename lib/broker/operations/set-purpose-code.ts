// PUT /api/v1/tenants/{slug}/purposes/{code}: defines (or re-describes) a tenant purpose code.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import { isStandardPurpose } from "../../contracts/governance";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { publishGovernanceChange } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZPurposeCatalog, ZPurposeCodeParams, ZPurposeCodeRequest } from "../../contracts/governance";

export async function setPurposeCode({
  ctx,
  actor,
  tenant: slug,
  requestId,
  code,
  description,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "governance">> & { code: string; description: string }) {
  authorize(actor, "governance.policy", slug);
  const tenant = await requireTenant(ctx, slug);
  if (isStandardPurpose(code)) throw new BrokerError("conflict", `"${code}" is a standard purpose code`);
  const row = await ctx.db.prisma.purposeCode.upsert({ where: { tenantId_code: { tenantId: tenant.id, code } }, create: { tenantId: tenant.id, code, description }, update: { description } });
  await publishGovernanceChange(ctx, { tenantId: tenant.id, actor: actorOf(actor), requestId, resource: "purpose_code", tokenId: null, value: { code, description } });
  return { code: row.code, description: row.description, createdAt: row.createdAt.toISOString() };
}
