// The certificate of destruction that crypto-shredding writes into the tenant's audit log: who
// destroyed how many data keys of which tenant and when, with a SHA-256 over the sorted DEK ids,
// signed with the broker's Ed25519 audit key. It is an audit entry like any other (so the hash
// chain covers it), and its own signature lets anyone holding the broker's public key check it
// offline, even out of the log: the verifier (verify.ts) checks both.
import { createHash, type KeyObject } from "node:crypto";
import { canonicalJson } from "./canonical";
import { verifySignature, type BrokerSigner } from "./signing";

export interface ShredCertificateFields {
  format: 1;
  type: "certificate_of_destruction";
  tenantId: string;
  tenantSlug: string;
  shreddedAt: string;
  actor: { type: string; id: string | null; name: string | null };
  dekCount: number;
  /** Hex SHA-256 over the destroyed DEK ids, lower case, sorted, joined by "\n". */
  dekIdsSha256: string;
}

export interface ShredCertificate extends ShredCertificateFields {
  /** The signing key (first 16 hex of sha256 over its SubjectPublicKeyInfo), as checkpoints name it. */
  keyId: string;
  /** Base64 Ed25519 signature of certificateMessage(). */
  signature: string;
}

const DOMAIN = "cmek-broker certificate of destruction v1\n";

/** What is signed: a domain prefix (no other signed message can pass for one) and the canonical JSON of every field but the signature. */
export function certificateMessage(c: ShredCertificateFields & { keyId: string }): string {
  const { format, type, tenantId, tenantSlug, shreddedAt, actor, dekCount, dekIdsSha256, keyId } = c;
  return DOMAIN + canonicalJson({ format, type, tenantId, tenantSlug, shreddedAt, actor, dekCount, dekIdsSha256, keyId });
}

export function dekIdsDigest(ids: readonly string[]): string {
  return createHash("sha256")
    .update([...ids].map((id) => id.toLowerCase()).sort().join("\n"), "utf8")
    .digest("hex");
}

export function signShredCertificate(signer: Pick<BrokerSigner, "keyId" | "sign">, fields: ShredCertificateFields): ShredCertificate {
  const unsigned = { ...fields, keyId: signer.keyId };
  return { ...unsigned, signature: signer.sign(certificateMessage(unsigned)) };
}

/** Null when the certificate is well formed, names `tenantId` and carries a valid signature by one of `keys`; else the problem. */
export function shredCertificateProblem(value: unknown, tenantId: string, keys: ReadonlyMap<string, KeyObject>): string | null {
  if (typeof value !== "object" || value === null) return "has no certificate";
  const c = value as Partial<ShredCertificate>;
  if (c.format !== 1 || c.type !== "certificate_of_destruction" || typeof c.signature !== "string" || typeof c.keyId !== "string") return "has a malformed certificate";
  if (typeof c.tenantId !== "string" || c.tenantId.toLowerCase() !== tenantId.toLowerCase()) return "has a certificate of another tenant";
  if (!Number.isInteger(c.dekCount) || typeof c.dekIdsSha256 !== "string" || !/^[0-9a-f]{64}$/.test(c.dekIdsSha256)) return "has a malformed certificate";
  const key = keys.get(c.keyId);
  if (!key) return `has a certificate signed by unknown key ${c.keyId}`;
  if (!verifySignature(key, certificateMessage(c as ShredCertificate), c.signature)) return "has a certificate with an invalid signature";
  return null;
}
