-- The ops fleet charts count KMS calls per minute across all tenants over the last hour; without
-- an index on time that query scans every tenant's chain. audit_event is append-only and written
-- in time order, so a BRIN index serves the range scan at almost no cost per insert (a btree
-- would add work to every audited request).
CREATE INDEX "audit_event_time_idx" ON "audit_event" USING BRIN ("time");
