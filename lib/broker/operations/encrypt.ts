// POST /api/v1/tenants/{slug}/encrypt: seals up to 1 MiB under the current DEK of the request's
// data class (`dataClass`, default `default`). Hot path: no database round trip (tenant, token,
// class and DEK come from memory) and the audit entry is group-committed. A class other than
// `default` gets format 2 records, which name the class (lib/crypto/envelope.ts).
import type { EncryptionContext } from "../../crypto/canonical-context";
import { sealEnvelope } from "../../crypto/envelope";
import { auditFailure } from "../views";
import { admitDataRequest, classFields, exceptionReason, lockedRefusal, withDataKey, type DataDeps } from "./data-admission";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZEncryptRequest, ZEncryptResponse } from "../../contracts/requests";

export interface EncryptInput {
  plaintext: Buffer;
  context?: EncryptionContext;
  purpose?: string;
  /** The data class to encrypt for (undefined: `default`). */
  dataClass?: string;
}

export async function encrypt({ ctx, actor: caller, tenant: slug, requestId, plaintext, context, purpose, dataClass: className }: TenantOperation<DataDeps> & EncryptInput): Promise<Buffer> {
  const { tenant, actor, breakGlassGrantId, dataClass } = await admitDataRequest(ctx, caller, slug, "encrypt", requestId, purpose, { name: className });
  const refusal = { tenantId: tenant.id, actor, action: "encrypt" as const, purpose, requestId, bytes: plaintext.length, ...classFields(dataClass) };
  const dek = await withDataKey(ctx, tenant, refusal, () => ctx.keys.forEncrypt(tenant, { actor, requestId }, dataClass), dataClass);
  if (dataClass.scope.state === "locked") throw await lockedRefusal(ctx, tenant, { ...refusal, dekId: dek.dekId, cacheHit: dek.hit }, dataClass);
  let sealed: Buffer;
  try {
    sealed = sealEnvelope(dek.material, { tenantId: tenant.id, dekId: dek.dekId, classId: dataClass.id }, plaintext, context);
  } catch {
    // The DEK was destroyed between lookup and use: only a lock does that.
    throw await lockedRefusal(ctx, tenant, { ...refusal, dekId: dek.dekId, cacheHit: dek.hit }, dataClass);
  }
  await ctx.audit
    .record({ ...refusal, outcome: "success", dekId: dek.dekId, cacheHit: dek.hit, reason: exceptionReason(breakGlassGrantId) })
    .catch((e) => {
      throw auditFailure(e);
    });
  ctx.metrics.dataRequests.inc({ operation: "encrypt", outcome: "success", cache: dek.hit ? "hit" : "miss" });
  return sealed;
}
