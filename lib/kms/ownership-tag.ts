// The tag (AWS, Azure) or label (GCP) by which a tenant proves a KMS key is its own: only the
// key's owner can set it. Pure, so the console's grant instructions and the broker share it.

export const OWNERSHIP_TAG = "cmek-broker-tenant";

/** The tag value for a tenant: its id, made safe for GCP labels (lowercase letters, digits, "_", "-", at most 63). */
export function ownershipTagValue(tenantId: string): string {
  return tenantId.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, 63);
}
