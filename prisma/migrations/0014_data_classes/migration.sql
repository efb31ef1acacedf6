-- Key scopes (issue 12): data classes with their own key, DEKs and lock state, secondary keys,
-- and service tokens limited to classes and operations.
--
-- The `default` class is the tenant itself: its lock state stays on the tenant row and its key
-- connections and DEKs have data_class_id NULL, so existing tenants change in nothing (no re-wrap).
-- Every other class has a row here, with the same lock-state columns as the tenant.
CREATE TABLE "data_class" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "state" "TenantState" NOT NULL DEFAULT 'pending',
    "state_version" INTEGER NOT NULL DEFAULT 0,
    "state_since" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lock_reason" TEXT,
    "lock_source" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "data_class_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "data_class_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "data_class_tenant_id_name_key" ON "data_class"("tenant_id", "name");

-- A key connection belongs to one class (NULL: default) and is its primary or its secondary key.
ALTER TABLE "key_connection" ADD COLUMN "data_class_id" UUID;
ALTER TABLE "key_connection" ADD COLUMN "role" TEXT NOT NULL DEFAULT 'primary';
ALTER TABLE "key_connection" ADD CONSTRAINT "key_connection_data_class_id_fkey" FOREIGN KEY ("data_class_id") REFERENCES "data_class"("id") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE INDEX "key_connection_data_class_id_idx" ON "key_connection"("data_class_id");

-- A DEK belongs to one class (NULL: default); its ciphertexts name that class in their header.
ALTER TABLE "data_key" ADD COLUMN "data_class_id" UUID;
ALTER TABLE "data_key" ADD CONSTRAINT "data_key_data_class_id_fkey" FOREIGN KEY ("data_class_id") REFERENCES "data_class"("id") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE INDEX "data_key_data_class_id_idx" ON "data_key"("data_class_id");

-- The other wrapped forms of a DEK: one per secondary key of its class. data_key.wrapped_key stays
-- the primary's form; removing a secondary deletes its rows here (cascade from key_connection).
CREATE TABLE "data_key_wrap" (
    "dek_id" UUID NOT NULL,
    "key_connection_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "wrapped_key" BYTEA NOT NULL,
    "key_version" TEXT,
    "wrapped_by_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "data_key_wrap_pkey" PRIMARY KEY ("dek_id", "key_connection_id"),
    CONSTRAINT "data_key_wrap_dek_id_fkey" FOREIGN KEY ("dek_id") REFERENCES "data_key"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "data_key_wrap_key_connection_id_fkey" FOREIGN KEY ("key_connection_id") REFERENCES "key_connection"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "data_key_wrap_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "data_key_wrap_key_connection_id_idx" ON "data_key_wrap"("key_connection_id");
CREATE INDEX "data_key_wrap_tenant_id_idx" ON "data_key_wrap"("tenant_id");

-- Least-privilege service tokens: an empty list means every class / both operations (today's tokens).
ALTER TABLE "service_token" ADD COLUMN "data_classes" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];
ALTER TABLE "service_token" ADD COLUMN "operations" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[];

-- Crypto-shredding refuses secondary wrapped forms as it refuses DEKs (0008).
CREATE TRIGGER data_key_wrap_not_shredded BEFORE INSERT ON "data_key_wrap" FOR EACH ROW EXECUTE FUNCTION data_key_refuse_shredded();
