// GET /api/v1/tenants/{slug}/connect-info: what the tenant must grant, i.e. the vendor's
// identities per cloud and the tenant id bound into the encryption context.
import { authorize } from "../../auth/authorize";
import { enabledProviders } from "../../kms/registry";
import type { BrokerContext } from "../context";
import { requireTenant } from "../tenant-lookup";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZConnectInfo } from "../../contracts/tenants";

/** The vendor principals the broker signs in as, when known (configured, or the emulators' in the demo). */
export interface VendorIdentities {
  awsPrincipal: string | null;
  gcpServiceAccount: string | null;
}

export async function getConnectInfo({ ctx, actor, tenant: slug, vendor }: TenantOperation<Pick<BrokerContext, "config" | "bus" | "registry" | "cache" | "kmipCredentials">> & { vendor: VendorIdentities }) {
  authorize(actor, "tenant.view", slug);
  const t = await requireTenant(ctx, slug);
  const c = ctx.config;
  return {
    tenantId: t.id,
    slug: t.slug,
    aws: { principal: vendor.awsPrincipal, region: c.AWS_REGION },
    azure: { appId: c.BROKER_VENDOR_AZURE_APP_ID ?? c.AZURE_CLIENT_ID ?? null, allowedHosts: c.AZURE_KEYVAULT_ALLOWED_HOSTS },
    gcp: { serviceAccount: vendor.gcpServiceAccount },
    pkcs11: { enabled: enabledProviders(c).has("pkcs11") },
    // The tenant registers this certificate in its KMIP server; made once per tenant, on first view.
    kmip: {
      allowedHosts: c.BROKER_KMIP_ALLOWED_HOSTS,
      clientCertificate: enabledProviders(c).has("kmip") ? await ctx.kmipCredentials.ensureIdentity(t.id) : null,
    },
  };
}
