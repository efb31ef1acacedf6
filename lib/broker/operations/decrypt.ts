// POST /api/v1/tenants/{slug}/decrypt: opens a ciphertext of this tenant with the context it
// was sealed with. Same hot-path shape as encrypt; the plaintext is zeroed if the audit write fails.
import type { EncryptionContext } from "../../crypto/canonical-context";
import { openEnvelope, readEnvelopeHeader, type EnvelopeHeader } from "../../crypto/envelope";
import { InvalidCiphertextError } from "../../crypto/errors";
import { BrokerError } from "../errors";
import { auditFailure } from "../views";
import { admitDataRequest, admitItem, lockedRefusal, recordRefusal, withDataKey, type DataDeps } from "./data-admission";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZDecryptRequest, ZDecryptResponse } from "../../contracts/requests";

export interface DecryptInput {
  ciphertext: Buffer;
  context?: EncryptionContext;
  purpose?: string;
}

export async function decrypt({ ctx, actor: caller, tenant: slug, requestId, ciphertext, context, purpose }: TenantOperation<DataDeps> & DecryptInput): Promise<Buffer> {
  const admitted = await admitDataRequest(ctx, caller, slug, "decrypt", requestId, purpose);
  const { tenant, actor } = admitted;
  admitItem(admitted, "decrypt", { purpose, context });
  const base = { tenantId: tenant.id, actor, action: "decrypt" as const, purpose, requestId, bytes: ciphertext.length };
  let header: EnvelopeHeader;
  try {
    header = readEnvelopeHeader(ciphertext);
    if (header.tenantId !== tenant.id) throw new InvalidCiphertextError("ciphertext belongs to another tenant");
  } catch (e) {
    await recordRefusal(ctx, { ...base, outcome: "invalid", reason: "invalid_ciphertext" });
    throw new BrokerError("invalid_ciphertext", (e as Error).message);
  }
  const dek = await withDataKey(ctx, tenant, { ...base, dekId: header.dekId }, () => ctx.keys.forDecrypt(tenant, header.dekId, { actor, requestId }));
  if (tenant.state === "locked") throw await lockedRefusal(ctx, tenant, { ...base, dekId: dek.dekId, cacheHit: dek.hit });
  let plaintext: Buffer;
  try {
    plaintext = openEnvelope(dek.material, ciphertext, context);
  } catch (e) {
    if (dek.material.destroyed) throw await lockedRefusal(ctx, tenant, { ...base, dekId: dek.dekId, cacheHit: dek.hit });
    await recordRefusal(ctx, { ...base, outcome: "invalid", dekId: dek.dekId, cacheHit: dek.hit, reason: "invalid_ciphertext" });
    ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "invalid", cache: dek.hit ? "hit" : "miss" });
    throw new BrokerError("invalid_ciphertext", e instanceof InvalidCiphertextError ? e.message : "ciphertext is invalid");
  }
  await ctx.audit.record({ ...base, outcome: "success", dekId: dek.dekId, cacheHit: dek.hit, bytes: plaintext.length }).catch((e) => {
    plaintext.fill(0);
    throw auditFailure(e);
  });
  ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "success", cache: dek.hit ? "hit" : "miss" });
  return plaintext;
}
