// The checks every key connection passes before it is stored, whatever it becomes (the tenant's
// key, a class's primary, a class's secondary): canonical reference, provider enabled, not another
// tenant's key, ownership tag, KMIP trust and describe, and a real wrap + unwrap round trip. The
// outcome is audited (`key.validate`); a failure throws grant_invalid naming the failed step.
import { actorOf, type Caller } from "../auth/caller";
import type { KmsProviderName } from "../kms/types";
import type { BrokerContext } from "./context";
import { connectableKeyRef, ownershipStep } from "./key-ownership";
import { validateKeyRoundTrip, type ValidationResult } from "./key-validation";
import { stageKmipTrust } from "./kmip-credentials";
import { kmipDescribeStep } from "./kmip-validation";
import { validationError } from "./views";

export interface KeyToConnect {
  provider: KmsProviderName;
  keyId: string;
  /** KMIP: the CA of the tenant's KMIP server. */
  serverCaPem?: string;
}

type Deps = Pick<BrokerContext, "providers" | "config" | "kms" | "audit" | "db" | "kmipCredentials">;

/**
 * Validates a key the tenant asks to connect and returns its canonical reference and the
 * round trip's result (key version, canary). `beforeValidation` runs once the reference is
 * canonical and before any KMS call (an approval gate). `detail` is added to the audit entry.
 */
export async function validateKeyToConnect(
  ctx: Deps,
  tenantId: string,
  actor: Caller,
  requestId: string | undefined,
  input: KeyToConnect,
  beforeValidation?: (keyRef: string) => Promise<unknown>,
  detail: Record<string, unknown> = {},
): Promise<{ keyRef: string; result: ValidationResult }> {
  const { provider, keyId, serverCaPem } = input;
  // Canonical form, provider enabled, not another tenant's key, tagged as this tenant's (lib/broker/key-ownership.ts).
  const keyRef = await connectableKeyRef(ctx.providers, ctx.db, tenantId, { provider, keyId });
  await beforeValidation?.(keyRef);
  // KMIP: the validation below already runs with the tenant's client identity and this CA.
  if (provider === "kmip") await stageKmipTrust(ctx.kmipCredentials, tenantId, keyRef, serverCaPem);
  const ownership = await ownershipStep(ctx.providers, ctx.config, tenantId, provider, keyRef);
  const who = actorOf(actor);
  const key = { provider, keyRef };
  const described = provider === "kmip" ? await kmipDescribeStep(ctx.providers, tenantId, keyRef) : null;
  const result = ownership && !ownership.ok ? ownership : (described?.failed ?? (await validateKeyRoundTrip(ctx.kms, tenantId, key, who, { lockOnRevoked: false, requestId })));
  if (described && !described.failed) result.steps.unshift(described.step);
  if (ownership?.ok) result.steps.unshift(...ownership.steps);
  await ctx.audit.record({
    tenantId,
    actor: who,
    action: "key.validate",
    outcome: result.ok ? "success" : result.unavailable ? "unavailable" : "denied",
    provider,
    keyRef,
    keyVersion: result.keyVersion,
    requestId,
    reason: result.failure ? `${result.failure.step}:${result.failure.reason ?? result.failure.kind}` : undefined,
    detail: { ...detail, steps: result.steps.map((s) => ({ step: s.step, ok: s.ok, latencyMs: Math.round(s.latencyMs * 10) / 10 })) },
  });
  if (!result.ok) throw validationError(result);
  return { keyRef, result };
}
