// The one interface every KMS provider implements, and the three error classes
// every provider error is sorted into. The broker's lock decisions rest on this
// classification: `revoked` locks a tenant, `unavailable` never does.

export type KmsProviderName = "aws" | "azure" | "gcp" | "kmip" | "pkcs11";

// compromised: the key manager marks the key compromised (KMIP State Compromised).
// pin_rejected and token_removed: a PKCS#11 token's PIN was changed or locked, or the token is gone.
export type RevocationReason = "disabled" | "access_denied" | "not_found" | "pending_deletion" | "destroyed" | "compromised" | "pin_rejected" | "token_removed";

export type KmsErrorKind = "revoked" | "unavailable" | "invalid";

/**
 * Why an error is the vendor's own fault rather than anything the tenant did:
 * - credentials_rejected: the broker's credentials are unknown, malformed or mis-signed;
 * - wrong_identity: the KMS names a caller that is not the broker's configured identity;
 * - identity_lacks_access: the broker's identity is refused on the vendor's own canary key too.
 * Such errors are always `unavailable` (never lock) and are reported to vendor operators.
 */
export type VendorFaultCause = "credentials_rejected" | "wrong_identity" | "identity_lacks_access";

export class KmsError extends Error {
  override readonly name = "KmsError";
  constructor(
    readonly kind: KmsErrorKind,
    readonly provider: KmsProviderName,
    message: string,
    readonly detail: {
      /** Only for kind "revoked". */
      reason?: RevocationReason;
      /** The provider's own error name or code, e.g. "DisabledException", "KeyDisabled", "9". */
      providerCode?: string;
      /** Seconds the provider asked us to wait (throttling). */
      retryAfterSeconds?: number;
      /** Set when the failure lies with the vendor's own identity or credentials (see VendorFaultCause). */
      vendorFault?: VendorFaultCause;
    } = {},
  ) {
    super(message);
  }

  get reason(): RevocationReason | undefined {
    return this.detail.reason;
  }
}

export function isKmsError(e: unknown): e is KmsError {
  return e instanceof KmsError;
}

/** The key reference after strict validation; `keyId` is exactly what the tenant registered. */
export interface KeyRef {
  provider: KmsProviderName;
  keyId: string;
}

export interface WrapResult {
  wrapped: Buffer;
  /**
   * The exact key version that wrapped it: AWS the KeyMaterialId, Azure the version segment of
   * the kid the service answered with, GCP the CryptoKeyVersion id of EncryptResponse.name.
   * Null when the provider did not say (the DEK then counts as needing re-wrap).
   */
  keyVersion: string | null;
  /** The key that version belongs to: AWS the key ARN (an alias resolved), Azure the versionless kid, GCP the CryptoKey name. */
  wrappedByKey?: string | null;
}

export interface KeyDescription {
  enabled: boolean;
  /** Provider-specific state text (e.g. "Enabled", "PendingDeletion", "DISABLED"). */
  state: string;
  /** The version new wraps use, in WrapResult.keyVersion's terms (AWS CurrentKeyMaterialId, Azure newest version, GCP primary). */
  currentVersion: string | null;
  /** AWS: the key ARN the reference (maybe an alias) resolves to. */
  keyArn?: string | null;
}

export interface UnwrapWithVersionCheck {
  plaintext: Buffer;
  /** False when the version that wrapped this ciphertext is no longer the key's current one. */
  usedCurrentVersion: boolean;
}

export interface KmsProvider {
  readonly name: KmsProviderName;
  /** Throws KmsError("invalid") naming what is wrong with the reference. */
  validateKeyRef(keyId: string): void;
  /**
   * The one spelling of a key reference that is stored and compared (validates first, so it throws
   * like validateKeyRef): two references that name the same key yield the same string.
   */
  canonicalKeyRef(keyId: string): string;
  /**
   * Tags (AWS key tags, Azure key tags, GCP CryptoKey labels) of the key, for the proof that the
   * tenant owns it. Errors are classified like every other call.
   */
  ownershipTags(keyId: string): Promise<Record<string, string>>;
  /**
   * Wraps a DEK (≤ 64 bytes). `context` (e.g. {tenant, dek}) is bound into the wrapped form where
   * the provider supports it: AWS EncryptionContext (so key-policy conditions can name the tenant),
   * GCP additionalAuthenticatedData (canonical JSON). Azure's wrapkey has no AAD.
   */
  wrap(keyId: string, dek: Buffer, context: Record<string, string>): Promise<WrapResult>;
  unwrap(keyId: string, wrapped: Buffer, context: Record<string, string>): Promise<Buffer>;
  describe(keyId: string): Promise<KeyDescription>;
  /**
   * When a deletion the key's owner scheduled becomes final, or null when none is scheduled:
   * AWS `DeletionDate` (DescribeKey), GCP `destroyTime` of the primary version (GetCryptoKey),
   * Azure `scheduledPurgeDate` of the soft-deleted key (GetDeletedKey). Errors are classified
   * like every other call (reading it may need a permission the data path does not).
   */
  scheduledDeletion(keyId: string): Promise<Date | null>;
  /** Only where one decrypt answer also tells whether the current version was used (GCP); the prober then needs no describe. */
  unwrapWithVersionCheck?(keyId: string, wrapped: Buffer, context: Record<string, string>): Promise<UnwrapWithVersionCheck>;
  /**
   * Re-wraps inside the KMS, without the plaintext DEK ever reaching the broker: decrypts
   * `wrapped` under `fromKeyId` and encrypts it under `toKeyId` (which may be the same key, e.g.
   * onto its new version). Only where the provider has such a call (AWS ReEncrypt), and only
   * between two keys of that provider.
   */
  reencrypt?(fromKeyId: string, toKeyId: string, wrapped: Buffer, fromContext: Record<string, string>, toContext: Record<string, string>): Promise<WrapResult>;
}
