// What makes a key connectable by a tenant, beyond "the broker can use it":
// 1. the reference is in its provider's canonical form (the only form stored and compared);
// 2. its provider is enabled on this broker (422 provider_disabled otherwise);
// 3. no other tenant has it connected (409 key_in_use, without naming that tenant), checked before
//    any KMS call and again under a lock in the transaction that stores the connection;
// 4. where the provider can express it, proof that the tenant owns it: the key tag (AWS, Azure),
//    CryptoKey label (GCP) or token data object (PKCS#11) cmek-broker-tenant=<tenant id>, which
//    only the key's owner can set.
//    BROKER_REQUIRE_KEY_OWNERSHIP_TAG, default on except against local emulators.
import { randomBytes, randomUUID } from "node:crypto";
import type { BrokerConfig } from "../config/env";
import type { Database, SqlExecutor } from "../db/database";
import { isProviderDisabled, providerFor, type KmsProviders } from "../kms/registry";
import { OWNERSHIP_TAG, ownershipTagValue } from "../kms/ownership-tag";
import { isKmsError, type KmsProvider, type KmsProviderName } from "../kms/types";
import { BrokerError } from "./errors";
import type { ValidationResult, ValidationStep } from "./key-validation";

export { OWNERSHIP_TAG, ownershipTagValue };

function isLoopbackUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const h = new URL(url).hostname;
    return h === "localhost" || h === "[::1]" || /^127\./.test(h);
  } catch {
    return false;
  }
}

/** On unless configured off; off by default when the broker talks to local emulators (which may not model tags). */
export function ownershipRequired(config: BrokerConfig): boolean {
  if (config.BROKER_REQUIRE_KEY_OWNERSHIP_TAG) return config.BROKER_REQUIRE_KEY_OWNERSHIP_TAG === "on";
  const againstEmulators = config.emulators || isLoopbackUrl(config.AWS_ENDPOINT_URL_KMS) || Boolean(config.GCP_KMS_INSECURE_TOKEN);
  return !againstEmulators;
}

/** Canonical reference of a key a tenant wants to connect; refuses a disabled provider, a bad reference, a key in use. */
export async function connectableKeyRef(
  providers: KmsProviders,
  db: Database,
  tenantId: string,
  input: { provider: KmsProviderName; keyId: string },
): Promise<string> {
  const provider = providerFor(providers, input.provider);
  let keyRef: string;
  try {
    keyRef = provider.canonicalKeyRef(input.keyId);
  } catch (e) {
    if (isProviderDisabled(e)) {
      throw new BrokerError("provider_disabled", `${input.provider} keys cannot be connected: the ${input.provider} provider is not enabled on this broker`, {
        field: "provider",
      });
    }
    throw new BrokerError("invalid_key_ref", isKmsError(e) ? e.message : "invalid key reference", { field: "keyId" });
  }
  await assertNotInUse(db, provider, tenantId, keyRef, null);
  return keyRef;
}

/** The same key whatever its spelling: Azure without version and case-insensitive, AWS by key ARN too. */
function identities(provider: KmsProvider, keyRef: string, resolvedKey: string | null): Set<string> {
  let canonical: string;
  try {
    canonical = provider.canonicalKeyRef(keyRef);
  } catch {
    // A stored reference the provider no longer accepts still blocks its exact spelling.
    canonical = keyRef;
  }
  if (provider.name === "azure") return new Set([canonical.replace(/\/[0-9a-fA-F]{32}$/, "").toLowerCase()]);
  const ids = new Set([canonical]);
  // The key ARN an alias resolved to (resolved_key; key_version in rows from before key rotation support): alias and key ARN match.
  if (provider.name === "aws" && resolvedKey?.startsWith("arn:")) ids.add(resolvedKey);
  return ids;
}

async function assertNotInUse(db: SqlExecutor, provider: KmsProvider, tenantId: string, keyRef: string, resolvedKey: string | null): Promise<void> {
  const mine = identities(provider, keyRef, resolvedKey);
  const rows = await db.query<{ key_ref: string; key_version: string | null }>(
    `SELECT key_ref, COALESCE(resolved_key, key_version) AS key_version FROM key_connection WHERE status = 'connected' AND provider = $1::"KmsProviderName" AND tenant_id <> $2`,
    [provider.name, tenantId],
  );
  for (const r of rows) {
    const theirs = identities(provider, r.key_ref, r.key_version);
    if ([...theirs].some((id) => mine.has(id))) {
      throw new BrokerError("key_in_use", "this key is already connected to another tenant; each tenant must connect a key of its own");
    }
  }
}

/**
 * Inside the transaction that stores the connection: serialises connects of the same provider
 * and checks again, now also by the key ARN an AWS alias resolved to.
 */
export async function claimKeyRef(tx: SqlExecutor, providers: KmsProviders, tenantId: string, providerName: KmsProviderName, keyRef: string, resolvedKey: string | null): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('cmek key_connection ' || $1))`, [providerName]);
  await assertNotInUse(tx, providerFor(providers, providerName), tenantId, keyRef, resolvedKey);
}

/** The ownership step of key validation, or null when not required. */
export async function ownershipStep(providers: KmsProviders, config: BrokerConfig, tenantId: string, providerName: KmsProviderName, keyRef: string): Promise<ValidationResult | null> {
  if (!ownershipRequired(config)) return null;
  // KMIP keys have no tags the broker can read; only this tenant's own client certificate (made for
  // it alone, registered by it in its server) can use the key, and claimKeyRef keeps it single-tenant.
  if (providerName === "kmip") return null;
  const provider = providerFor(providers, providerName);
  const want = ownershipTagValue(tenantId);
  const kind = providerName === "gcp" ? "label" : providerName === "pkcs11" ? "token data object" : "tag";
  const started = performance.now();
  const result = (step: ValidationStep): ValidationResult => ({
    ok: step.ok,
    steps: [step],
    keyVersion: null,
    canaryWrapped: null,
    unavailable: step.error?.kind === "unavailable",
    ...(step.error ? { failure: { step: step.step, ...step.error } } : {}),
  });
  const fail = (error: NonNullable<ValidationStep["error"]>) => result({ step: "ownership", ok: false, latencyMs: performance.now() - started, error });
  // AWS cannot show tags across accounts (ListResourceTags is "Cross-account use: No"), so there the
  // proof is the grant itself: a key bound to this tenant's id refuses a wrap under another tenant's id.
  if (providerName === "aws") {
    const proof = await awsContextBinding(provider, tenantId, keyRef);
    return proof ? fail(proof) : result({ step: "ownership", ok: true, latencyMs: performance.now() - started });
  }
  let tags: Record<string, string>;
  try {
    tags = await provider.ownershipTags(keyRef);
  } catch (e) {
    if (isKmsError(e) && e.kind === "unavailable") return fail({ kind: "unavailable", code: e.detail.providerCode, message: e.message });
    const hint =
      providerName === "azure" ? "give the broker keys/get on the key, " : providerName === "pkcs11" ? "check the token's PIN file on the broker, " : "give the broker cloudkms.cryptoKeys.get on the key, ";
    return fail({
      kind: isKmsError(e) ? e.kind : "error",
      reason: "ownership_unreadable",
      code: isKmsError(e) ? e.detail.providerCode : undefined,
      message: `the broker could not read the key's ${kind}s to check ${OWNERSHIP_TAG}=${want}: ${hint}or check the key reference (${isKmsError(e) ? e.message : String(e)})`,
    });
  }
  if (tags[OWNERSHIP_TAG] !== want) {
    const found = tags[OWNERSHIP_TAG] === undefined ? "it has none" : "it carries another value";
    return fail({
      kind: "invalid",
      reason: "ownership_tag_missing",
      message: `the key must carry the ${kind} ${OWNERSHIP_TAG}=${want} to prove it belongs to this tenant; ${found}`,
    });
  }
  return result({ step: "ownership", ok: true, latencyMs: performance.now() - started });
}

/**
 * The AWS ownership proof: the grant or key-policy condition the console shows
 * (kms:EncryptionContext:tenant = this tenant's id) is what makes a key this tenant's, and only the
 * key's owner can write it. A wrap under a random other tenant id must therefore be refused; a key
 * that accepts it would serve any tenant that names it. Returns the failure, or null when proven.
 */
async function awsContextBinding(provider: KmsProvider, tenantId: string, keyRef: string): Promise<NonNullable<ValidationStep["error"]> | null> {
  const decoy = randomUUID();
  const probe = randomBytes(32);
  try {
    await provider.wrap(keyRef, probe, { tenant: decoy, purpose: "ownership-proof" });
  } catch (e) {
    if (isKmsError(e) && e.kind === "revoked" && e.reason === "access_denied") return null;
    if (isKmsError(e) && e.kind === "unavailable") return { kind: "unavailable", code: e.detail.providerCode, message: e.message };
    // Disabled, missing or otherwise refused: the round trip that follows names the real problem.
    if (isKmsError(e) && e.kind === "revoked") return null;
    return { kind: isKmsError(e) ? e.kind : "error", reason: "ownership_unproven", message: `the ownership check could not run: ${isKmsError(e) ? e.message : String(e)}` };
  } finally {
    probe.fill(0);
  }
  return {
    kind: "invalid",
    reason: "ownership_not_bound",
    message: `the key lets the broker encrypt for any tenant: bind it to this tenant with the condition kms:EncryptionContext:tenant = ${tenantId} (key policy) or --constraints EncryptionContextSubset={tenant=${tenantId}} (grant), as the grant instructions show`,
  };
}
