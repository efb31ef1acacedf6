// GET /api/v1/tenants/{slug}/audit/verify: the tenant's hash chain and checkpoint signatures.
import { verifyTenantChain } from "../../audit";
import { authorize } from "../../auth/authorize";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAuditVerifyResult } from "../../contracts/audit";

export async function verifyAudit({ ctx, actor, tenant: slug }: TenantOperation<Pick<BrokerContext, "db" | "bus" | "registry" | "cache">>) {
  authorize(actor, "audit.verify", slug);
  const t = await requireTenant(ctx, slug);
  return verifyTenantChain(ctx.db, t.id);
}
