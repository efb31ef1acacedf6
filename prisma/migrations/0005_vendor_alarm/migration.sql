-- Vendor-side KMS faults (the broker's own identity or credentials refused), one row per
-- instance, provider and cause, kept current by that instance (see lib/broker/vendor-faults.ts).
-- The fleet view shows rows seen recently, whichever instance serves it: the instance with the
-- bad credentials is usually not the one the operator is looking at.
CREATE TABLE "vendor_alarm" (
    "instance_id" TEXT NOT NULL,
    "provider" "KmsProviderName" NOT NULL,
    "cause" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,
    "first_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "vendor_alarm_pkey" PRIMARY KEY ("instance_id", "provider", "cause")
);
CREATE INDEX "vendor_alarm_last_at_idx" ON "vendor_alarm"("last_at");
