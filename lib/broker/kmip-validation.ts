// The KMIP part of connecting a key, before the wrap + unwrap round trip: a "describe" step that
// reads the server's versions and identity and the key's attributes with the tenant's own client
// certificate, so a wrong key (128-bit, no Decrypt in its usage mask, Pre-Active) is named as such
// instead of failing the round trip with the server's generic answer.
import { KmipKmsProvider } from "../kms/kmip";
import type { KmsProviders } from "../kms/registry";
import { isKmsError } from "../kms/types";
import type { ValidationResult, ValidationStep } from "./key-validation";

/** Null when the describe step passed (or KMIP is not enabled: the round trip then reports it). */
export async function kmipDescribeStep(providers: KmsProviders, tenantId: string, keyRef: string): Promise<{ step: ValidationStep; failed: ValidationResult | null }> {
  const started = performance.now();
  const p = providers.kmip;
  const done = (error?: ValidationStep["error"]) => {
    const step: ValidationStep = { step: "describe", ok: !error, latencyMs: performance.now() - started, ...(error ? { error } : {}) };
    const failed: ValidationResult | null = error
      ? { ok: false, steps: [step], keyVersion: null, canaryWrapped: null, unavailable: error.kind === "unavailable", failure: { step: "describe", ...error } }
      : null;
    return { step, failed };
  };
  if (!(p instanceof KmipKmsProvider)) return done();
  try {
    const { problems } = await p.inspect(keyRef, tenantId);
    return problems.length ? done({ kind: "invalid", code: "key_unsuitable", message: `the KMIP key cannot wrap data keys: ${problems.join("; ")}` }) : done();
  } catch (e) {
    if (!isKmsError(e)) throw e;
    return done({ kind: e.kind, reason: e.reason, code: e.detail.providerCode, message: e.message });
  }
}
