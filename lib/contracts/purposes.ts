// The standard purpose codes, modelled on Google Cloud's Key Access Justifications reason codes
// (https://cloud.google.com/assured-workloads/key-access-justifications/docs/justification-codes),
// reworded for a SaaS vendor calling its tenant's broker. Tenants add their own codes beside
// these (table purpose_code). In lib/contracts (no imports) because the request schemas use it.

export const STANDARD_PURPOSES = {
  customer_initiated_access: "The tenant's own users asked for this data (a request they made in the product)",
  customer_initiated_support: "Vendor support staff acting on a support case the tenant opened",
  vendor_support: "Vendor support acting without a tenant-opened case (proactive support)",
  vendor_system_operation: "Automated processing by the vendor's systems (indexing, jobs, replication)",
  vendor_security_review: "The vendor's security team investigating abuse, an attack or an incident",
  third_party_data_request: "A legal or government request for the tenant's data",
  backup_restore: "Backing up or restoring the tenant's data",
  modified_customer_initiated_access: "Access the tenant asked for, on a changed or escalated scope",
} as const;

export type StandardPurpose = keyof typeof STANDARD_PURPOSES;

export const STANDARD_PURPOSE_CODES = Object.keys(STANDARD_PURPOSES) as StandardPurpose[];

/** A purpose code: lowercase letters, digits and underscores; the syntax of the standard codes. */
export const PURPOSE_CODE_PATTERN = /^[a-z][a-z0-9_]{1,62}$/;

export function isStandardPurpose(code: string): code is StandardPurpose {
  return Object.hasOwn(STANDARD_PURPOSES, code);
}
