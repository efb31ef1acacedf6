-- Key rotation (issue 11): which key each DEK's version belongs to, and which key a connection's
-- reference resolves to. data_key.key_version is the exact version that wrapped the DEK (AWS
-- KeyMaterialId, Azure kid version, GCP CryptoKeyVersion id); rows written before this change
-- hold an AWS key ARN or NULL there, which reads as "unknown, needs re-wrap".
ALTER TABLE "data_key" ADD COLUMN "wrapped_by_key" TEXT;
ALTER TABLE "key_connection" ADD COLUMN "resolved_key" TEXT;
