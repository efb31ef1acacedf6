-- The PKCS#11 provider (lib/kms/pkcs11): tenants connect a key on a token of the vendor's HSM
-- module. Nothing else is stored per connection: the key reference is the pkcs11: URI, the PIN
-- lives in the vendor's PIN directory, never in the database.
ALTER TYPE "KmsProviderName" ADD VALUE IF NOT EXISTS 'pkcs11';
