// The vendor's own canary keys, one per provider (AWS: one per region): keys the vendor owns and
// its broker identity may always use. When a tenant's key answers "access denied" and the canary
// is refused too, the vendor lost access (wrong role, expired permissions, a bad deployment),
// not the tenant: nothing may be locked for it. When the canary works, the refusal is the tenant's.
//
// One answer per canary key is trusted for `ttlMs` and concurrent checks share one round trip,
// so a burst of refusals across thousands of tenants costs one canary call, not thousands.
import { randomBytes } from "node:crypto";
import type { KmsProviders } from "./registry";
import { isKmsError, type KmsProviderName, type VendorFaultCause } from "./types";

export interface VendorCanaryKeys {
  /** Key ARNs, at most one per region. */
  aws?: string[];
  azure?: string;
  gcp?: string;
  /** Never set: a PKCS#11 refusal concerns the token's PIN or key, not a vendor identity a canary could test. */
  pkcs11?: string;
  /** KMIP: every tenant reaches its server with its own client identity, so no vendor-wide canary exists. */
  kmip?: undefined;
}

export type CanaryVerdict =
  /** No canary configured for this provider (and region). */
  | { state: "none" }
  /** The vendor's identity can use its canary: a refusal of a tenant's key is the tenant's doing. */
  | { state: "ok" }
  /** The vendor's identity is refused on its own canary too. */
  | { state: "refused"; cause: VendorFaultCause; message: string }
  /** The canary could not tell (unreachable, misconfigured canary). */
  | { state: "unknown"; message: string };

const CANARY_CONTEXT = { purpose: "vendor-canary" };

export class VendorCanary {
  private readonly answers = new Map<string, { at: number; verdict: Promise<CanaryVerdict> }>();

  constructor(
    private readonly providers: KmsProviders,
    private readonly keys: VendorCanaryKeys,
    private readonly ttlMs = 5_000,
  ) {}

  /** The canary key that tells about `tenantKeyRef`, if one is configured. */
  keyFor(provider: KmsProviderName, tenantKeyRef: string): string | null {
    if (provider === "aws") {
      const region = tenantKeyRef.split(":")[3];
      return this.keys.aws?.find((arn) => arn.split(":")[3] === region) ?? null;
    }
    return this.keys[provider] ?? null;
  }

  configured(provider: KmsProviderName): boolean {
    return provider === "aws" ? (this.keys.aws?.length ?? 0) > 0 : Boolean(this.keys[provider]);
  }

  async check(provider: KmsProviderName, tenantKeyRef: string): Promise<CanaryVerdict> {
    const key = this.keyFor(provider, tenantKeyRef);
    if (!key) return { state: "none" };
    const id = `${provider} ${key}`;
    const cached = this.answers.get(id);
    if (cached && Date.now() - cached.at < this.ttlMs) return cached.verdict;
    const verdict = this.roundTrip(provider, key);
    this.answers.set(id, { at: Date.now(), verdict });
    return verdict;
  }

  private async roundTrip(provider: KmsProviderName, key: string): Promise<CanaryVerdict> {
    const p = this.providers[provider];
    const secret = randomBytes(32);
    try {
      const { wrapped } = await p.wrap(key, secret, CANARY_CONTEXT);
      const back = await p.unwrap(key, wrapped, CANARY_CONTEXT);
      const same = back.equals(secret);
      back.fill(0);
      return same ? { state: "ok" } : { state: "unknown", message: `canary key ${key} returned different bytes` };
    } catch (e) {
      if (!isKmsError(e)) return { state: "unknown", message: `canary key ${key}: ${(e as Error)?.message ?? String(e)}` };
      if (e.detail.vendorFault) return { state: "refused", cause: e.detail.vendorFault, message: e.message };
      if (e.kind === "revoked" && e.reason === "access_denied") return { state: "refused", cause: "identity_lacks_access", message: e.message };
      return { state: "unknown", message: `canary key ${key}: ${e.message}` };
    } finally {
      secret.fill(0);
    }
  }
}
