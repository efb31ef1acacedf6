// Proves that the broker can really use a tenant's key: wrap a random canary under the
// tenant's context, unwrap it, compare. Used when a key is connected, on unlock, and (with the
// stored canary) by the prober. Each step reports its result and latency so the console and
// the API can say exactly what failed.
import { randomBytes } from "node:crypto";
import type { AuditActor } from "../audit/types";
import { isKmsError, type KmsProviderName } from "../kms/types";
import type { KmsGateway } from "./kms-gateway";

export interface ValidationStep {
  step: "wrap" | "unwrap" | "compare" | "describe" | "ownership";
  ok: boolean;
  latencyMs: number;
  error?: { kind: string; reason?: string; code?: string; message: string };
}

export interface ValidationResult {
  ok: boolean;
  steps: ValidationStep[];
  keyVersion: string | null;
  /** The key the version belongs to (AWS: the key ARN an alias resolved to). */
  wrappedByKey?: string | null;
  canaryWrapped: Buffer | null;
  /** Set when the failure was the KMS being unreachable rather than a refusal. */
  unavailable: boolean;
  failure?: ValidationStep["error"] & { step: ValidationStep["step"] };
}

export function canaryContext(tenantId: string): Record<string, string> {
  return { tenant: tenantId, purpose: "canary" };
}

export async function validateKeyRoundTrip(
  kms: KmsGateway,
  tenantId: string,
  key: { provider: KmsProviderName; keyRef: string; dataClassId?: string | null },
  actor: AuditActor,
  opts: { lockOnRevoked: boolean; requestId?: string },
): Promise<ValidationResult> {
  const steps: ValidationStep[] = [];
  const canary = randomBytes(32);
  const meta = { tenantId, actor, requestId: opts.requestId, lockOnRevoked: opts.lockOnRevoked };
  const fail = (step: ValidationStep["step"], e: unknown, started: number): ValidationResult => {
    const error = isKmsError(e)
      ? { kind: e.kind, reason: e.reason, code: e.detail.providerCode, message: e.message }
      : { kind: "error", message: (e as Error).message };
    steps.push({ step, ok: false, latencyMs: performance.now() - started, error });
    canary.fill(0);
    return { ok: false, steps, keyVersion: null, canaryWrapped: null, unavailable: error.kind === "unavailable", failure: { step, ...error } };
  };

  let t = performance.now();
  let wrapped: Buffer;
  let keyVersion: string | null;
  let wrappedByKey: string | null;
  try {
    const r = await kms.wrap(key, canary, canaryContext(tenantId), meta);
    wrapped = r.wrapped;
    keyVersion = r.keyVersion;
    wrappedByKey = r.wrappedByKey ?? null;
    steps.push({ step: "wrap", ok: true, latencyMs: performance.now() - t });
  } catch (e) {
    return fail("wrap", e, t);
  }
  t = performance.now();
  let unwrapped: Buffer;
  try {
    unwrapped = await kms.unwrapRaw(key, wrapped, canaryContext(tenantId), meta);
    steps.push({ step: "unwrap", ok: true, latencyMs: performance.now() - t });
  } catch (e) {
    return fail("unwrap", e, t);
  }
  t = performance.now();
  const same = unwrapped.equals(canary);
  unwrapped.fill(0);
  canary.fill(0);
  if (!same) return fail("compare", new Error("the key returned different bytes than were wrapped"), t);
  steps.push({ step: "compare", ok: true, latencyMs: performance.now() - t });
  return { ok: true, steps, keyVersion, wrappedByKey, canaryWrapped: wrapped, unavailable: false };
}
