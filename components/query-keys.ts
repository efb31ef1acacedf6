// Query keys in one place so mutations invalidate exactly what they change.
export const qk = {
  me: ["me"] as const,
  tenant: (slug: string) => ["tenant", slug] as const,
  health: (slug: string) => ["tenant", slug, "health"] as const,
  tokens: (slug: string) => ["tenant", slug, "tokens"] as const,
  connectInfo: (slug: string) => ["tenant", slug, "connect-info"] as const,
  audit: (slug: string) => ["tenant", slug, "audit"] as const,
  // Under audit(slug), so invalidating the tenant's audit refreshes list and chart together.
  auditList: (slug: string, filters: Record<string, string>) => ["tenant", slug, "audit", "list", filters] as const,
  auditActivity: (slug: string) => ["tenant", slug, "audit", "activity"] as const,
  webhooks: (slug: string) => ["tenant", slug, "webhooks"] as const,
  webhookDeliveries: (slug: string, id: string) => ["tenant", slug, "webhooks", id, "deliveries"] as const,
  purposes: (slug: string) => ["tenant", slug, "purposes"] as const,
  purposePolicy: (slug: string, tokenId: string) => ["tenant", slug, "tokens", tokenId, "purpose-policy"] as const,
  alerts: (slug: string) => ["tenant", slug, "alerts"] as const,
  auditPurposes: (slug: string) => ["tenant", slug, "audit", "purposes"] as const,
  fleetAlerts: ["fleet-alerts"] as const,
  classes: (slug: string) => ["tenant", slug, "classes"] as const,
  lifecycle: (slug: string) => ["tenant", slug, "lifecycle"] as const,
  fleetActivity: ["fleet-activity"] as const,
  fleet: (params: Record<string, unknown>) => ["fleet", params] as const,
  fleetAll: ["fleet"] as const,
};
