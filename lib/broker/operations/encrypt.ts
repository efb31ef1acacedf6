// POST /api/v1/tenants/{slug}/encrypt: seals up to 1 MiB under the tenant's current DEK. Hot
// path: no database round trip (tenant, token and DEK come from memory) and the audit entry is
// group-committed.
import type { EncryptionContext } from "../../crypto/canonical-context";
import { sealEnvelope } from "../../crypto/envelope";
import { auditFailure } from "../views";
import { admitDataRequest, admitItem, lockedRefusal, withDataKey, type DataDeps } from "./data-admission";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZEncryptRequest, ZEncryptResponse } from "../../contracts/requests";

export interface EncryptInput {
  plaintext: Buffer;
  context?: EncryptionContext;
  purpose?: string;
}

export async function encrypt({ ctx, actor: caller, tenant: slug, requestId, plaintext, context, purpose }: TenantOperation<DataDeps> & EncryptInput): Promise<Buffer> {
  const admitted = await admitDataRequest(ctx, caller, slug, "encrypt", requestId, purpose);
  const { tenant, actor } = admitted;
  admitItem(admitted, "encrypt", { purpose, context });
  const refusal = { tenantId: tenant.id, actor, action: "encrypt" as const, purpose, requestId, bytes: plaintext.length };
  const dek = await withDataKey(ctx, tenant, refusal, () => ctx.keys.forEncrypt(tenant, { actor, requestId }));
  if (tenant.state === "locked") throw await lockedRefusal(ctx, tenant, { ...refusal, dekId: dek.dekId, cacheHit: dek.hit });
  let sealed: Buffer;
  try {
    sealed = sealEnvelope(dek.material, { tenantId: tenant.id, dekId: dek.dekId }, plaintext, context);
  } catch {
    // The DEK was destroyed between lookup and use: only a lock does that.
    throw await lockedRefusal(ctx, tenant, { ...refusal, dekId: dek.dekId, cacheHit: dek.hit });
  }
  await ctx.audit
    .record({ tenantId: tenant.id, actor, action: "encrypt", outcome: "success", dekId: dek.dekId, cacheHit: dek.hit, bytes: plaintext.length, purpose, requestId })
    .catch((e) => {
      throw auditFailure(e);
    });
  ctx.metrics.dataRequests.inc({ operation: "encrypt", outcome: "success", cache: dek.hit ? "hit" : "miss" });
  return sealed;
}
