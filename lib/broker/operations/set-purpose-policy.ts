// PUT /api/v1/tenants/{slug}/tokens/{tokenId}/purpose-policy: the purposes a token may give and
// whether it must give one. Every allowed code must be a standard code or one the tenant defined.
// Goes through the approval hook; applies on every instance within milliseconds.
import { actorOf } from "../../auth/caller";
import { authorize } from "../../auth/authorize";
import { isStandardPurpose } from "../../contracts/governance";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { approvalGate } from "../governance/approval-gate";
import { publishGovernanceChange, requireTenantToken } from "../governance/changes";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZPurposePolicy, ZPurposePolicyRequest, ZTokenParams } from "../../contracts/governance";

export interface PurposePolicyInput {
  tokenId: string;
  allowedPurposes: string[] | null;
  requirePurpose: boolean;
}

export async function setPurposePolicy({
  ctx,
  actor,
  tenant: slug,
  requestId,
  approved,
  tokenId,
  allowedPurposes,
  requirePurpose,
}: TenantOperation<Pick<BrokerContext, "db" | "audit" | "bus" | "registry" | "cache" | "governance" | "clock">> & PurposePolicyInput) {
  authorize(actor, "governance.policy", slug);
  const tenant = await requireTenant(ctx, slug);
  await requireTenantToken(ctx, tenant.id, tokenId);
  const codes = allowedPurposes === null ? null : [...new Set(allowedPurposes)].sort();
  if (codes) {
    const custom = new Set((await ctx.db.prisma.purposeCode.findMany({ where: { tenantId: tenant.id }, select: { code: true } })).map((c) => c.code));
    const unknown = codes.filter((c) => !isStandardPurpose(c) && !custom.has(c));
    if (unknown.length) throw new BrokerError("invalid_request", `unknown purpose code(s): ${unknown.join(", ")}; define them first (PUT /purposes/{code})`);
  }
  await approvalGate(ctx, { actor, approved, requestId, tenantId: tenant.id, action: "governance.policy", params: { resource: "purpose_policy", tokenId, allowedPurposes: codes, requirePurpose } });
  const [row] = await ctx.db.query<{ updated_at: Date }>(
    `INSERT INTO token_policy (tenant_id, token_id, allowed_purposes, require_purpose) VALUES ($1, $2, $3::jsonb, $4)
     ON CONFLICT (token_id) DO UPDATE SET allowed_purposes = EXCLUDED.allowed_purposes, require_purpose = EXCLUDED.require_purpose, updated_at = CURRENT_TIMESTAMP
     RETURNING updated_at`,
    [tenant.id, tokenId, codes === null ? null : JSON.stringify(codes), requirePurpose],
  );
  await publishGovernanceChange(ctx, { tenantId: tenant.id, actor: actorOf(actor), requestId, resource: "purpose_policy", tokenId, value: { allowedPurposes: codes, requirePurpose } });
  return { tokenId, allowedPurposes: codes, requirePurpose, updatedAt: new Date(row!.updated_at).toISOString() };
}
