-- Initial schema. Hand-written because Prisma's migrate engine cannot be downloaded offline;
-- test/db/schema-agreement.test.ts proves it matches prisma/schema.prisma.

CREATE TYPE "TenantState" AS ENUM ('pending', 'active', 'locked');
CREATE TYPE "KmsProviderName" AS ENUM ('aws', 'azure', 'gcp');
CREATE TYPE "ConsoleRole" AS ENUM ('vendor_ops', 'tenant_admin', 'tenant_auditor');

CREATE TABLE "tenant" (
    "id" UUID NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "state" "TenantState" NOT NULL DEFAULT 'pending',
    "state_version" INTEGER NOT NULL DEFAULT 0,
    "state_since" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lock_reason" TEXT,
    "lock_source" TEXT,
    "manual_resume" BOOLEAN NOT NULL DEFAULT false,
    "retention_days" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "tenant_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "tenant_slug_key" ON "tenant"("slug");

CREATE TABLE "key_connection" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "provider" "KmsProviderName" NOT NULL,
    "key_ref" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'connected',
    "key_version" TEXT,
    "canary_wrapped" BYTEA,
    "last_validated_at" TIMESTAMPTZ(3),
    "last_probe_at" TIMESTAMPTZ(3),
    "last_probe_outcome" TEXT,
    "last_probe_latency_ms" INTEGER,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "key_connection_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "key_connection_tenant_id_status_idx" ON "key_connection"("tenant_id", "status");

CREATE TABLE "data_key" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "key_connection_id" UUID NOT NULL,
    "wrapped_key" BYTEA NOT NULL,
    "key_version" TEXT,
    "uses_reserved" BIGINT NOT NULL DEFAULT 0,
    "retired_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "data_key_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "data_key_tenant_id_retired_at_idx" ON "data_key"("tenant_id", "retired_at");

CREATE TABLE "service_token" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "service_token_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "service_token_token_hash_key" ON "service_token"("token_hash");
CREATE INDEX "service_token_tenant_id_idx" ON "service_token"("tenant_id");

CREATE TABLE "tenant_transition" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "from_state" "TenantState" NOT NULL,
    "to_state" "TenantState" NOT NULL,
    "cause" TEXT NOT NULL,
    "reason" TEXT,
    "actor" TEXT,
    "revoked_at" TIMESTAMPTZ(3),
    "detected_at" TIMESTAMPTZ(3),
    "effective_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "fanout_ms" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "tenant_transition_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "tenant_transition_tenant_id_created_at_idx" ON "tenant_transition"("tenant_id", "created_at");

CREATE TABLE "audit_event" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "time" TIMESTAMPTZ(3) NOT NULL,
    "actor_type" TEXT NOT NULL,
    "actor_id" TEXT,
    "actor_name" TEXT,
    "action" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "provider" TEXT,
    "key_ref" TEXT,
    "key_version" TEXT,
    "dek_id" TEXT,
    "cache_hit" BOOLEAN,
    "latency_ms" DOUBLE PRECISION,
    "bytes" INTEGER,
    "purpose" TEXT,
    "request_id" TEXT,
    "reason" TEXT,
    "detail" JSONB,
    "prev_hash" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    CONSTRAINT "audit_event_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "audit_event_tenant_id_seq_key" ON "audit_event"("tenant_id", "seq");
CREATE INDEX "audit_event_tenant_id_time_idx" ON "audit_event"("tenant_id", "time");
CREATE INDEX "audit_event_tenant_id_request_id_idx" ON "audit_event"("tenant_id", "request_id");

CREATE TABLE "audit_checkpoint" (
    "id" BIGSERIAL NOT NULL,
    "tenant_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "hash" TEXT NOT NULL,
    "pruned_before_seq" BIGINT,
    "signature" TEXT NOT NULL,
    "key_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audit_checkpoint_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_checkpoint_tenant_id_seq_idx" ON "audit_checkpoint"("tenant_id", "seq");

CREATE TABLE "broker_signing_key" (
    "id" TEXT NOT NULL,
    "public_key" TEXT NOT NULL,
    "private_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "broker_signing_key_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "webhook_subscription" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "cursor_seq" BIGINT NOT NULL DEFAULT 0,
    "disabled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_subscription_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhook_subscription_tenant_id_idx" ON "webhook_subscription"("tenant_id");

CREATE TABLE "webhook_delivery" (
    "id" BIGSERIAL NOT NULL,
    "subscription_id" UUID NOT NULL,
    "first_seq" BIGINT NOT NULL,
    "last_seq" BIGINT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "status" INTEGER,
    "error" TEXT,
    "latency_ms" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_delivery_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhook_delivery_subscription_id_created_at_idx" ON "webhook_delivery"("subscription_id", "created_at");

CREATE TABLE "console_user" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "email_verified" TIMESTAMPTZ(3),
    "image" TEXT,
    "password_hash" TEXT,
    "role" "ConsoleRole" NOT NULL,
    "tenant_id" UUID,
    "disabled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "console_user_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "console_user_email_key" ON "console_user"("email");

CREATE TABLE "console_account" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "provider_account_id" TEXT NOT NULL,
    "refresh_token" TEXT,
    "access_token" TEXT,
    "expires_at" INTEGER,
    "token_type" TEXT,
    "scope" TEXT,
    "id_token" TEXT,
    "session_state" TEXT,
    CONSTRAINT "console_account_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "console_account_provider_provider_account_id_key" ON "console_account"("provider", "provider_account_id");

CREATE TABLE "console_session" (
    "id" UUID NOT NULL,
    "session_token" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "expires" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "console_session_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "console_session_session_token_key" ON "console_session"("session_token");

CREATE TABLE "console_verification_token" (
    "identifier" TEXT NOT NULL,
    "token" TEXT NOT NULL,
    "expires" TIMESTAMPTZ(3) NOT NULL
);
CREATE UNIQUE INDEX "console_verification_token_token_key" ON "console_verification_token"("token");
CREATE UNIQUE INDEX "console_verification_token_identifier_token_key" ON "console_verification_token"("identifier", "token");

ALTER TABLE "key_connection" ADD CONSTRAINT "key_connection_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "data_key" ADD CONSTRAINT "data_key_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "data_key" ADD CONSTRAINT "data_key_key_connection_id_fkey" FOREIGN KEY ("key_connection_id") REFERENCES "key_connection"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "service_token" ADD CONSTRAINT "service_token_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "tenant_transition" ADD CONSTRAINT "tenant_transition_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "webhook_subscription" ADD CONSTRAINT "webhook_subscription_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "webhook_delivery" ADD CONSTRAINT "webhook_delivery_subscription_id_fkey" FOREIGN KEY ("subscription_id") REFERENCES "webhook_subscription"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "console_user" ADD CONSTRAINT "console_user_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "console_account" ADD CONSTRAINT "console_account_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "console_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "console_session" ADD CONSTRAINT "console_session_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "console_user"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The audit log is append-only for every role, the broker's included: rows can never be
-- updated, and deleted only through audit_prune(), which refuses to cut below a signed checkpoint.
CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('cmek.audit_prune', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON "audit_event" FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON "audit_event" FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON "audit_event" FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE OR DELETE ON "audit_checkpoint" FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();

CREATE FUNCTION audit_prune(p_tenant UUID, p_before_seq BIGINT) RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
  deleted BIGINT;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM "audit_checkpoint" WHERE "tenant_id" = p_tenant AND "seq" >= p_before_seq - 1) THEN
    RAISE EXCEPTION 'audit_prune: no signed checkpoint at or after seq %', p_before_seq - 1;
  END IF;
  PERFORM set_config('cmek.audit_prune', 'on', true);
  DELETE FROM "audit_event" WHERE "tenant_id" = p_tenant AND "seq" < p_before_seq;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  PERFORM set_config('cmek.audit_prune', 'off', true);
  RETURN deleted;
END $$;
