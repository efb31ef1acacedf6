// Crypto-shredding (POST /api/v1/tenants/{slug}/shred): the request, the answer, and the
// certificate of destruction the audit log keeps (lib/audit/shred-certificate.ts).
import { z } from "zod";
import { ZSafeString, ZTenant } from "./requests";

export const ZShredCertificate = z
  .strictObject({
    format: z.literal(1),
    type: z.literal("certificate_of_destruction"),
    tenantId: z.string(),
    tenantSlug: z.string(),
    shreddedAt: z.string().describe("ISO 8601"),
    actor: z.strictObject({ type: z.string(), id: z.string().nullable(), name: z.string().nullable() }).describe("who destroyed the keys"),
    dekCount: z.number().int().describe("data keys destroyed"),
    dekIdsSha256: z.string().describe('hex SHA-256 over the destroyed DEK ids, lower case, sorted, joined by "\\n"'),
    keyId: z.string().describe("the broker signing key (GET /api/v1/audit/public-key)"),
    signature: z.string().describe('base64 Ed25519 over "cmek-broker certificate of destruction v1\\n" + the canonical JSON of every other member'),
  })
  .describe("signed certificate of destruction");

export const ZShredRequest = z.strictObject({
  confirm: ZSafeString.max(200).describe("the tenant's slug, typed out: the operation cannot be undone"),
});

export const ZShredResponse = z.object({ tenant: ZTenant, certificate: ZShredCertificate });
