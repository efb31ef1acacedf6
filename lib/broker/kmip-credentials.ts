// The KMIP provider's per-tenant credentials, kept in the database (migration 0010):
// - kmip_client_identity: one client key and self-signed certificate per tenant, made by the broker
//   and registered by the tenant in its KMIP server. The private key is sealed (AES-256-GCM, key
//   from BROKER_KMIP_SEALING_KEY, else a secret generated once in DATA_DIR; tenant id as AAD).
// - kmip_server_trust: per tenant and key reference, the CA PEM the tenant gave for its server.
// Read per KMS call (no cache), so a re-connected key or a new CA applies at once on every instance.
import { X509Certificate } from "node:crypto";
import { secretFromEnvOrDataDir } from "../config/data-dir-secret";
import type { BrokerConfig } from "../config/env";
import { openSecret, sealingKey, sealSecret } from "../crypto/sealed-secret";
import type { Database } from "../db/database";
import type { KmipCredentialSource } from "../kms/kmip";
import type { KmipTlsIdentity } from "../kms/kmip/connection";
import { generateKmipClientIdentity } from "../kms/kmip/identity";
import { isKmsError, KmsError } from "../kms/types";
import { BrokerError } from "./errors";

export interface KmipIdentityView {
  commonName: string;
  certificatePem: string;
  fingerprintSha256: string;
  notAfter: string;
}

function sealingSecret(config: Pick<BrokerConfig, "BROKER_KMIP_SEALING_KEY" | "DATA_DIR">): string {
  return secretFromEnvOrDataDir(config.BROKER_KMIP_SEALING_KEY, config.DATA_DIR, "kmip-sealing-key");
}

/** Checks a tenant-supplied CA bundle: 1..8 PEM certificates, each parseable. */
export function parseServerCaPem(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0 || blocks.length > 8) throw new KmsError("invalid", "kmip", "serverCaPem must hold 1 to 8 PEM certificates (the CA that issued the KMIP server's certificate)", { providerCode: "invalid_server_ca" });
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch {
      throw new KmsError("invalid", "kmip", "serverCaPem holds a certificate that does not parse", { providerCode: "invalid_server_ca" });
    }
  }
  return blocks.join("\n") + "\n";
}

export class KmipCredentialStore implements KmipCredentialSource {
  private key: Buffer | null = null;

  constructor(
    private readonly db: Database,
    private readonly config: Pick<BrokerConfig, "BROKER_KMIP_SEALING_KEY" | "DATA_DIR">,
  ) {}

  private sealKey(): Buffer {
    this.key ??= sealingKey(sealingSecret(this.config), "kmip client keys");
    return this.key;
  }

  /** The tenant's client identity, made on first use. */
  async ensureIdentity(tenantId: string): Promise<KmipIdentityView> {
    const existing = await this.identity(tenantId);
    if (existing) return existing;
    const id = await generateKmipClientIdentity(`cmek-broker-${tenantId}`);
    const sealed = sealSecret(this.sealKey(), Buffer.from(id.privateKeyPem, "utf8"), tenantId);
    // Two first requests at once: the first insert wins and both read it back.
    await this.db.query(
      `INSERT INTO kmip_client_identity (tenant_id, common_name, certificate_pem, fingerprint_sha256, private_key_sealed, not_after)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id) DO NOTHING`,
      [tenantId, id.commonName, id.certificatePem, id.fingerprintSha256, sealed, id.notAfter],
    );
    return (await this.identity(tenantId))!;
  }

  async identity(tenantId: string): Promise<KmipIdentityView | null> {
    const rows = await this.db.query<{ common_name: string; certificate_pem: string; fingerprint_sha256: string; not_after: Date }>(
      `SELECT common_name, certificate_pem, fingerprint_sha256, not_after FROM kmip_client_identity WHERE tenant_id = $1`,
      [tenantId],
    );
    const r = rows[0];
    return r ? { commonName: r.common_name, certificatePem: r.certificate_pem, fingerprintSha256: r.fingerprint_sha256, notAfter: new Date(r.not_after).toISOString() } : null;
  }

  /** Records the CA the tenant gave for one key (before validation, which needs it). */
  async setServerTrust(tenantId: string, keyRef: string, caPem: string): Promise<void> {
    await this.db.query(
      `INSERT INTO kmip_server_trust (tenant_id, key_ref, server_ca_pem, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (tenant_id, key_ref) DO UPDATE SET server_ca_pem = EXCLUDED.server_ca_pem, updated_at = now()`,
      [tenantId, keyRef, caPem],
    );
  }

  async credentialsFor(keyRef: string, tenantId: string | undefined): Promise<KmipTlsIdentity> {
    // Without a tenant (describe), the tenant that connected the key; trust rows of tenants that
    // only tried to connect it never outrank the owner's.
    const rows = await this.db.query<{ tenant_id: string; server_ca_pem: string; certificate_pem: string; private_key_sealed: Buffer }>(
      `SELECT t.tenant_id, t.server_ca_pem, i.certificate_pem, i.private_key_sealed
         FROM kmip_server_trust t JOIN kmip_client_identity i ON i.tenant_id = t.tenant_id
        WHERE t.key_ref = $1 AND ($2::uuid IS NULL OR t.tenant_id = $2::uuid)
        ORDER BY EXISTS (SELECT 1 FROM key_connection k WHERE k.tenant_id = t.tenant_id AND k.key_ref = t.key_ref) DESC, t.updated_at DESC
        LIMIT 1`,
      [keyRef, tenantId ?? null],
    );
    const r = rows[0];
    if (!r) throw new KmsError("invalid", "kmip", "no KMIP client identity and server CA are on record for this key (connect it with serverCaPem)", { providerCode: "no_credentials" });
    const keyPem = openSecret(this.sealKey(), Buffer.from(r.private_key_sealed), r.tenant_id);
    try {
      return { certPem: r.certificate_pem, keyPem: keyPem.toString("utf8"), caPem: r.server_ca_pem };
    } finally {
      keyPem.fill(0);
    }
  }
}

/** Before a KMIP key is validated: the tenant's identity exists and the CA it gave is recorded for the key. */
export async function stageKmipTrust(store: KmipCredentialStore, tenantId: string, keyRef: string, serverCaPem: string | undefined): Promise<void> {
  if (!serverCaPem?.trim()) throw new BrokerError("invalid_request", "serverCaPem is required for a KMIP key: the CA certificate (PEM) that issued your KMIP server's certificate");
  let ca: string;
  try {
    ca = parseServerCaPem(serverCaPem);
  } catch (e) {
    throw new BrokerError("invalid_request", isKmsError(e) ? e.message : "serverCaPem is not PEM");
  }
  await store.ensureIdentity(tenantId);
  await store.setServerTrust(tenantId, keyRef, ca);
}
