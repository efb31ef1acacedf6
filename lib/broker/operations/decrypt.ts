// POST /api/v1/tenants/{slug}/decrypt: opens a ciphertext of this tenant with the context it
// was sealed with. Same hot-path shape as encrypt; the plaintext is zeroed if the audit write
// fails. The data class comes from the header (format 1: `default`): it is admitted (lock
// scope, key) before any unwrap, and the DEK must be of that very class (checked against the
// cached entry or the stored row, before unwrapping) or the request is 422.
import type { EncryptionContext } from "../../crypto/canonical-context";
import { openEnvelope, readEnvelopeHeader, type EnvelopeHeader } from "../../crypto/envelope";
import { InvalidCiphertextError } from "../../crypto/errors";
import { BrokerError } from "../errors";
import { auditFailure } from "../views";
import { admitDataRequest, classFields, exceptionReason, lockedRefusal, recordRefusal, withDataKey, type DataDeps } from "./data-admission";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZDecryptRequest, ZDecryptResponse } from "../../contracts/requests";

export interface DecryptInput {
  ciphertext: Buffer;
  context?: EncryptionContext;
  purpose?: string;
}

/** The header, or why it cannot be read: an unreadable header is refused once the caller is admitted. */
export function tryReadHeader(ciphertext: Buffer): { header: EnvelopeHeader; error?: undefined } | { header: null; error: Error } {
  try {
    return { header: readEnvelopeHeader(ciphertext) };
  } catch (e) {
    return { header: null, error: e as Error };
  }
}

export async function decrypt({ ctx, actor: caller, tenant: slug, requestId, ciphertext, context, purpose }: TenantOperation<DataDeps> & DecryptInput): Promise<Buffer> {
  const read = tryReadHeader(ciphertext);
  const { tenant, actor, breakGlassGrantId, dataClass } = await admitDataRequest(ctx, caller, slug, "decrypt", requestId, purpose, { header: read.header });
  const base = { tenantId: tenant.id, actor, action: "decrypt" as const, purpose, requestId, bytes: ciphertext.length, ...classFields(dataClass) };
  const header = read.header;
  if (!header || header.tenantId !== tenant.id) {
    await recordRefusal(ctx, { ...base, outcome: "invalid", reason: "invalid_ciphertext" });
    throw new BrokerError("invalid_ciphertext", header ? new InvalidCiphertextError("ciphertext belongs to another tenant").message : read.error!.message);
  }
  const dek = await withDataKey(ctx, tenant, { ...base, dekId: header.dekId }, () => ctx.keys.forDecrypt(tenant, header.dekId, { actor, requestId }, dataClass.id), dataClass);
  if (dataClass.scope.state === "locked") throw await lockedRefusal(ctx, tenant, { ...base, dekId: dek.dekId, cacheHit: dek.hit }, dataClass);
  let plaintext: Buffer;
  try {
    plaintext = openEnvelope(dek.material, ciphertext, context);
  } catch (e) {
    if (dek.material.destroyed) throw await lockedRefusal(ctx, tenant, { ...base, dekId: dek.dekId, cacheHit: dek.hit }, dataClass);
    await recordRefusal(ctx, { ...base, outcome: "invalid", dekId: dek.dekId, cacheHit: dek.hit, reason: "invalid_ciphertext" });
    ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "invalid", cache: dek.hit ? "hit" : "miss" });
    throw new BrokerError("invalid_ciphertext", e instanceof InvalidCiphertextError ? e.message : "ciphertext is invalid");
  }
  await ctx.audit.record({ ...base, outcome: "success", dekId: dek.dekId, cacheHit: dek.hit, bytes: plaintext.length, reason: exceptionReason(breakGlassGrantId) }).catch((e) => {
    plaintext.fill(0);
    throw auditFailure(e);
  });
  ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "success", cache: dek.hit ? "hit" : "miss" });
  return plaintext;
}
