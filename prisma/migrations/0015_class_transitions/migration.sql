-- Key scopes (issue 12): each data class is its own lock scope, so a transition names the class
-- it changed (NULL: the `default` class, i.e. the tenant row, as every transition before this).
ALTER TABLE "tenant_transition" ADD COLUMN "data_class" TEXT;
CREATE INDEX "tenant_transition_tenant_id_data_class_id_idx" ON "tenant_transition"("tenant_id", "data_class", "id");
