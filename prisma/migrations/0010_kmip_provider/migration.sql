-- KMIP provider (lib/kms/kmip.ts): the provider name, each tenant's broker-made client identity
-- (private key sealed by lib/crypto/sealed-secret.ts), and the server CA a tenant gave per key.
ALTER TYPE "KmsProviderName" ADD VALUE 'kmip';

CREATE TABLE "kmip_client_identity" (
    "tenant_id" UUID NOT NULL,
    "common_name" TEXT NOT NULL,
    "certificate_pem" TEXT NOT NULL,
    "fingerprint_sha256" TEXT NOT NULL,
    "private_key_sealed" BYTEA NOT NULL,
    "not_after" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "kmip_client_identity_pkey" PRIMARY KEY ("tenant_id")
);

CREATE TABLE "kmip_server_trust" (
    "tenant_id" UUID NOT NULL,
    "key_ref" TEXT NOT NULL,
    "server_ca_pem" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "kmip_server_trust_pkey" PRIMARY KEY ("tenant_id", "key_ref")
);
CREATE INDEX "kmip_server_trust_key_ref_idx" ON "kmip_server_trust"("key_ref");

ALTER TABLE "kmip_client_identity" ADD CONSTRAINT "kmip_client_identity_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "kmip_server_trust" ADD CONSTRAINT "kmip_server_trust_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
