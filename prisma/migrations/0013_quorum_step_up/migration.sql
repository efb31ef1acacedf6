-- M-of-N approvals and step-up factors (issue 13, items 3 and 4).

-- Per tenant: which actions need approval, how many distinct tenant admins (besides the requester)
-- must approve, and whether every admin must step up with a factor for sensitive actions.
CREATE TABLE "tenant_quorum" (
    "tenant_id" UUID NOT NULL,
    "actions" JSONB NOT NULL,
    "required_approvals" INTEGER NOT NULL,
    "require_step_up" BOOLEAN NOT NULL DEFAULT false,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "tenant_quorum_pkey" PRIMARY KEY ("tenant_id"),
    CONSTRAINT "tenant_quorum_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- A protected action waiting for approval, with its exact parameters. status moves once from
-- pending to executed, failed, expired or cancelled (a conditional UPDATE ... WHERE status =
-- 'pending' is the claim, so it runs once across instances).
CREATE TABLE "approval_request" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "action" TEXT NOT NULL,
    "params" JSONB NOT NULL,
    "requested_by_id" TEXT NOT NULL,
    "requested_by_name" TEXT NOT NULL,
    "required_approvals" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "result" JSONB,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "decided_at" TIMESTAMPTZ(3),
    CONSTRAINT "approval_request_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "approval_request_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "approval_request_tenant_id_created_at_idx" ON "approval_request"("tenant_id", "created_at");

-- One approval per admin per request (the primary key makes a second approval count once).
CREATE TABLE "approval_vote" (
    "request_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "user_email" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "approval_vote_pkey" PRIMARY KEY ("request_id", "user_id"),
    CONSTRAINT "approval_vote_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "approval_request"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- A console user's step-up factor: a TOTP authenticator (seed sealed with AES-256-GCM under a key
-- derived from the console's session secret; last_step refuses a replayed code) or a passkey
-- (WebAuthn credential id, COSE public key and signature counter). verified_at null: enrolment
-- not yet confirmed, the factor does not count.
CREATE TABLE "console_factor" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "totp_seed" TEXT,
    "totp_last_step" BIGINT,
    "credential_id" TEXT,
    "public_key" BYTEA,
    "counter" BIGINT,
    "transports" JSONB,
    "verified_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "console_factor_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "console_factor_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "console_user"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "console_factor_user_id_idx" ON "console_factor"("user_id");
CREATE UNIQUE INDEX "console_factor_credential_id_key" ON "console_factor"("credential_id");

-- The user's last step-up (a passkey or TOTP assertion), and the pending WebAuthn challenge.
ALTER TABLE "console_user" ADD COLUMN "step_up_at" TIMESTAMPTZ(3);
ALTER TABLE "console_user" ADD COLUMN "webauthn_challenge" TEXT;
ALTER TABLE "console_user" ADD COLUMN "webauthn_challenge_at" TIMESTAMPTZ(3);
