// Sorts any error thrown by the GCP client (or the network under it) into the broker's three classes.
import { KmsError, type RevocationReason } from "./types";

interface GaxLikeError {
  code?: unknown;
  details?: unknown;
  message?: unknown;
}

const STATE_IN_MESSAGE = /current state is: ([A-Z_]+)/;

/** Maps any error thrown by the GCP client (or the network under it) to the broker's three classes. */
export function classifyGcpError(e: unknown, keyId?: string): KmsError {
  if (e instanceof KmsError) return e;
  const err = (e ?? {}) as GaxLikeError;
  const code = typeof err.code === "number" ? err.code : undefined;
  const text = [err.details, err.message].filter((x) => typeof x === "string").join(" | ") || String(e);
  const where = keyId ? ` (key ${keyId})` : "";
  const revoked = (reason: RevocationReason, providerCode: string) =>
    new KmsError("revoked", "gcp", `GCP KMS refused the key${where}: ${text}`, { reason, providerCode });

  switch (code) {
    case 9: {
      const state = STATE_IN_MESSAGE.exec(text)?.[1];
      if (state === "DESTROY_SCHEDULED") return revoked("pending_deletion", "9:DESTROY_SCHEDULED");
      if (state === "DESTROYED") return revoked("destroyed", "9:DESTROYED");
      return revoked("disabled", state ? `9:${state}` : "9");
    }
    case 7:
      return revoked("access_denied", "7");
    case 5:
      return revoked("not_found", "5");
    case 3:
      // A checksum mismatch means bytes changed in transit, not that the caller sent bad data.
      if (/checksum|crc32c/i.test(text)) {
        return new KmsError("unavailable", "gcp", `GCP KMS reported a checksum mismatch${where}: ${text}`, { providerCode: "crc32c_mismatch" });
      }
      return new KmsError("invalid", "gcp", `GCP KMS rejected the request${where}: ${text}`, { providerCode: "3" });
    case 16:
      return new KmsError("unavailable", "gcp", `GCP KMS rejected the broker's own credentials${where}; this is a broker configuration fault, not a revocation: ${text}`, {
        providerCode: "16",
        vendorFault: "credentials_rejected",
      });
    default:
      // 14, 4, 8, 13, 1, 2 and anything unrecognised are transient
      // from the tenant's point of view: they must never lock a tenant.
      return new KmsError("unavailable", "gcp", `GCP KMS unavailable${where}: ${text}`, {
        // No retryAfterSeconds: Cloud KMS quota errors carry no server-suggested delay.
        providerCode: code !== undefined ? String(code) : errName(e),
      });
  }
}

function errName(e: unknown): string {
  if (e && typeof e === "object" && "code" in e && typeof (e as { code: unknown }).code === "string") return (e as { code: string }).code;
  return e instanceof Error ? e.name : "unknown";
}
