-- Deletion windows: the date after which a key the tenant scheduled for deletion (AWS
-- DeletionDate, GCP destroyTime of the primary version, Azure scheduledPurgeDate) is gone for
-- good, as the KMS last reported it; null when no deletion is scheduled or it is not visible.
ALTER TABLE "key_connection" ADD COLUMN "unrecoverable_after" TIMESTAMPTZ(3);

-- Crypto-shredding: when a tenant's data keys were destroyed and by whom. Permanent: nothing
-- ever clears it, and every instance refuses the tenant's data requests with 410 from then on.
ALTER TABLE "tenant" ADD COLUMN "shredded_at" TIMESTAMPTZ(3);
ALTER TABLE "tenant" ADD COLUMN "shredded_by" TEXT;

-- No DEK may be stored for a shredded tenant, whichever instance writes it. An instance that has
-- not yet heard of the shred could otherwise store a DEK whose wrap was in flight when the shred
-- committed. FOR SHARE waits for a shred in progress (its UPDATE holds the tenant row) and then
-- reads the committed row; a DEK written before the shred's UPDATE makes the shred wait for it,
-- and the shred's DELETE (a later statement, so a later snapshot) then removes it too.
CREATE FUNCTION data_key_refuse_shredded() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  shredded TIMESTAMPTZ;
BEGIN
  SELECT shredded_at INTO shredded FROM tenant WHERE id = NEW.tenant_id FOR SHARE;
  IF shredded IS NOT NULL THEN
    RAISE EXCEPTION 'tenant % was shredded; no data key may be stored for it', NEW.tenant_id USING ERRCODE = 'CM410';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER data_key_not_shredded BEFORE INSERT ON "data_key" FOR EACH ROW EXECUTE FUNCTION data_key_refuse_shredded();
