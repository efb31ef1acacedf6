-- Re-wrap jobs (lib/broker/lifecycle): one row per job that moves a tenant's DEKs onto its
-- current key and key version. Workers lease a job like the prober leases keys, so exactly
-- one instance works a tenant's job at a time and another takes over when a lease lapses
-- (kill -9). A DEK's wrapped form is replaced only after the new one was verified by an unwrap,
-- in one compare-and-swap UPDATE of data_key, so the job itself needs no staging column.
CREATE TABLE "rewrap_job" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    -- running | paused | completed | cancelled
    "state" TEXT NOT NULL DEFAULT 'running',
    -- key_switch | rotation | manual | cancel_switch
    "cause" TEXT NOT NULL,
    "target_connection_id" UUID NOT NULL,
    "target_version" TEXT,
    "total" INTEGER NOT NULL DEFAULT 0,
    "done" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "kms_calls" INTEGER NOT NULL DEFAULT 0,
    "cursor" TEXT,
    "pause_cause" TEXT,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "next_run_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "leased_by" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    CONSTRAINT "rewrap_job_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "rewrap_job_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "rewrap_job_tenant_id_state_idx" ON "rewrap_job"("tenant_id", "state");
CREATE INDEX "rewrap_job_state_next_run_at_idx" ON "rewrap_job"("state", "next_run_at");
