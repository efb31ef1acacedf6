-- Tenant governance (issue 13): purpose policies and access windows per service token, one-off
-- maintenance windows, break-glass exceptions, the tenant's time zone and alert thresholds, and
-- alerts on unusual key use (one open row per episode).

-- Per tenant: the IANA time zone access windows and usual hours are read in, and alert thresholds
-- (null: the defaults of lib/broker/governance/alert-thresholds.ts).
CREATE TABLE "tenant_governance" (
    "tenant_id" UUID NOT NULL,
    "time_zone" TEXT NOT NULL DEFAULT 'UTC',
    "alert_thresholds" JSONB,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "tenant_governance_pkey" PRIMARY KEY ("tenant_id"),
    CONSTRAINT "tenant_governance_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Tenant-defined purpose codes, beside the standard catalog.
CREATE TABLE "purpose_code" (
    "tenant_id" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "purpose_code_pkey" PRIMARY KEY ("tenant_id", "code"),
    CONSTRAINT "purpose_code_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- One policy row per token. Its own id (not the token id) is the key, so a data-class column can
-- be added later with a unique (token_id, data_class) instead of today's unique token_id.
-- allowed_purposes (a JSON array of codes) null: any purpose; weekly_windows null: no window restriction.
CREATE TABLE "token_policy" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "token_id" UUID NOT NULL,
    "allowed_purposes" JSONB,
    "require_purpose" BOOLEAN NOT NULL DEFAULT false,
    "weekly_windows" JSONB,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "token_policy_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "token_policy_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "token_policy_token_id_fkey" FOREIGN KEY ("token_id") REFERENCES "service_token"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "token_policy_token_id_key" ON "token_policy"("token_id");
CREATE INDEX "token_policy_tenant_id_idx" ON "token_policy"("tenant_id");

-- A one-off window in which a window-restricted token may be used (token_id null: every token).
CREATE TABLE "maintenance_window" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "token_id" UUID,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "ends_at" TIMESTAMPTZ(3) NOT NULL,
    "note" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "maintenance_window_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "maintenance_window_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "maintenance_window_tenant_id_ends_at_idx" ON "maintenance_window"("tenant_id", "ends_at");

-- A time-bounded exception to the access windows, granted by a tenant admin with a reason.
CREATE TABLE "break_glass_grant" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "token_id" UUID,
    "reason" TEXT NOT NULL,
    "granted_by" TEXT NOT NULL,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "break_glass_grant_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "break_glass_grant_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "break_glass_grant_tenant_id_expires_at_idx" ON "break_glass_grant"("tenant_id", "expires_at");

-- Alerts on unusual key use. At most one open row per (tenant, kind, subject): that row is the
-- episode, whichever instance saw the anomaly; it resolves once no instance has seen it for a while.
CREATE TABLE "usage_alert" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "detail" JSONB NOT NULL,
    "raised_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL,
    "resolved_at" TIMESTAMPTZ(3),
    CONSTRAINT "usage_alert_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "usage_alert_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "usage_alert_open_key" ON "usage_alert"("tenant_id", "kind", "subject") WHERE "resolved_at" IS NULL;
CREATE INDEX "usage_alert_tenant_id_raised_at_idx" ON "usage_alert"("tenant_id", "raised_at");
