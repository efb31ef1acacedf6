// Request and response schemas of the HTTP API. The same schemas validate requests and
// produce /api/v1/openapi.json.
import { z } from "zod";

export const MAX_PLAINTEXT_BYTES = 1024 * 1024;

const base64 = z
  .string()
  .max(Math.ceil((MAX_PLAINTEXT_BYTES * 4) / 3) + 4 + 256, "too large")
  .refine((s) => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s), "must be standard base64 (A-Z a-z 0-9 + /, padded with =)");

export const ZSlug = z
  .string()
  .min(2)
  .max(63)
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, "lowercase letters, digits and dashes; must start and end with a letter or digit");

export const ZEncryptionContext = z
  .record(z.string().min(1).max(256), z.string().max(1024))
  .refine((o) => Object.keys(o).length <= 64, "at most 64 entries")
  .describe("String-to-string map bound into the ciphertext; the same map must be given to decrypt");

export const ZPurpose = z.string().min(1).max(200).describe("Free text recorded in the audit log, e.g. 'billing-export'");

export const ZEncryptRequest = z.strictObject({
  plaintext: base64.describe("base64 of at most 1 MiB"),
  context: ZEncryptionContext.optional(),
  purpose: ZPurpose.optional(),
});
export const ZEncryptResponse = z.object({ ciphertext: z.string() });

export const ZDecryptRequest = z.strictObject({
  ciphertext: base64,
  context: ZEncryptionContext.optional(),
  purpose: ZPurpose.optional(),
});
export const ZDecryptResponse = z.object({ plaintext: z.string() });

export const ZCreateTenantRequest = z.strictObject({ slug: ZSlug, name: z.string().trim().min(1).max(200) });

export const ZTenant = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  state: z.enum(["pending", "active", "locked"]),
  since: z.string(),
  lockReason: z.string().nullable(),
  lockSource: z.string().nullable(),
  manualResume: z.boolean(),
});
export const ZKey = z.object({
  id: z.string(),
  provider: z.enum(["aws", "azure", "gcp"]),
  keyId: z.string(),
  keyVersion: z.string().nullable(),
  lastValidatedAt: z.string().nullable(),
});
export const ZTenantResponse = z.object({ tenant: ZTenant, key: ZKey.nullable().optional() });

export const ZConnectKeyRequest = z.strictObject({
  provider: z.enum(["aws", "azure", "gcp"]),
  keyId: z.string().trim().min(1).max(2048).describe("AWS key ARN or alias ARN, Azure key URI, or GCP projects/*/locations/*/keyRings/*/cryptoKeys/*"),
});
export const ZValidationStep = z.object({
  step: z.enum(["wrap", "unwrap", "compare", "describe", "ownership"]),
  ok: z.boolean(),
  latencyMs: z.number(),
  error: z.object({ kind: z.string(), reason: z.string().optional(), code: z.string().optional(), message: z.string() }).optional(),
});
export const ZConnectKeyResponse = z.object({ tenant: ZTenant, key: ZKey.nullable(), validation: z.object({ steps: z.array(ZValidationStep) }) });

export const ZCreateTokenRequest = z.strictObject({ name: z.string().trim().min(1).max(100) });
export const ZCreateTokenResponse = z.object({ id: z.string(), token: z.string().describe("shown once"), name: z.string(), prefix: z.string(), createdAt: z.string() });
export const ZTokenList = z.object({
  tokens: z.array(z.object({ id: z.string(), name: z.string(), prefix: z.string(), createdAt: z.string(), lastUsedAt: z.string().nullable(), revokedAt: z.string().nullable() })),
});

export const ZLockRequest = z.strictObject({ reason: z.string().trim().min(1).max(500) });
export const ZSettingsRequest = z.strictObject({ manualResume: z.boolean() });

export const ZStatusResponse = z.object({
  state: z.enum(["pending", "active", "locked"]),
  since: z.string(),
  reason: z.string().nullable(),
  lockSource: z.string().nullable().optional(),
  health: z.record(z.string(), z.unknown()).optional(),
  lastLock: z.record(z.string(), z.unknown()).nullable().optional(),
});

export const ZError = z.object({ error: z.object({ code: z.string(), message: z.string() }).catchall(z.unknown()) });

export const ZSlugParams = z.object({ slug: ZSlug });
