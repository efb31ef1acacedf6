-- Prober schedule: one row per key worth probing. Claiming due rows with
-- FOR UPDATE SKIP LOCKED and moving next_probe_at forward in the same statement is what makes
-- a key probed by one instance per interval across the cluster. Rows exist only for keys of
-- tenants that were active (DEKs cached somewhere) or locked by their KMS; idle tenants have
-- no row, or a stale last_activity_at, and cost no KMS calls.
CREATE TABLE "key_probe" (
    "key_connection_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "next_probe_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leased_by" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "last_activity_at" TIMESTAMPTZ(3),
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "key_probe_pkey" PRIMARY KEY ("key_connection_id")
);
CREATE INDEX "key_probe_next_probe_at_idx" ON "key_probe"("next_probe_at");
CREATE INDEX "key_probe_tenant_id_idx" ON "key_probe"("tenant_id");

ALTER TABLE "key_probe" ADD CONSTRAINT "key_probe_key_connection_id_fkey" FOREIGN KEY ("key_connection_id") REFERENCES "key_connection"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "key_probe" ADD CONSTRAINT "key_probe_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
