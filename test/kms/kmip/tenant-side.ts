// The tenant's side of a KMIP test: its admin tools talk to its PyKMIP server directly with a
// certificate from the server's CA. PyKMIP's ownership is the certificate's CN, so an admin
// certificate with the broker's CN administers the keys the broker owns (a PyKMIP quirk).
import { KmipClient } from "@/lib/kms/kmip/client";
import { RevocationReasonCode, UsageMask } from "@/lib/kms/kmip/tags";
import type { PyKmipServer } from "@/testkit/pykmip";
import type { ApiClient } from "../../support/broker-harness";

export interface KmipTenant {
  slug: string;
  commonName: string;
  certificatePem: string;
  admin: KmipClient;
  /** Creates and activates an AES-256 Encrypt|Decrypt key; returns its kmip:// reference. */
  newKey(opts?: { policy?: string; owner?: KmipClient }): Promise<{ uid: string; keyRef: string }>;
}

export async function kmipTenant(api: ApiClient, server: PyKmipServer, slug: string): Promise<KmipTenant> {
  await api.createTenant(slug);
  const info = await api.admin("GET", `/api/v1/tenants/${slug}/connect-info`);
  if (info.status !== 200) throw new Error(`connect-info: ${info.status} ${JSON.stringify(info.body)}`);
  const cert = info.body.kmip.clientCertificate as { commonName: string; certificatePem: string };
  const admin = adminClient(server, cert.commonName);
  return {
    slug,
    commonName: cert.commonName,
    certificatePem: cert.certificatePem,
    admin,
    async newKey(opts = {}) {
      const owner = opts.owner ?? admin;
      const uid = await owner.create({ usageMask: UsageMask.Encrypt | UsageMask.Decrypt, operationPolicyName: opts.policy });
      await owner.activate(uid);
      return { uid, keyRef: `kmip://${server.host}:${server.port}/${uid}` };
    },
  };
}

export function adminClient(server: PyKmipServer, cn: string): KmipClient {
  const c = server.clientCert(cn);
  return new KmipClient({ host: server.host, port: server.port, certPem: c.certPem, keyPem: c.keyPem, caPem: server.caPem }, `admin ${cn}`, { timeoutMs: 10_000 });
}

export const deactivate = (c: KmipClient, uid: string) => c.revoke(uid, RevocationReasonCode.CessationOfOperation);
export const compromise = (c: KmipClient, uid: string) => c.revoke(uid, RevocationReasonCode.KeyCompromise, new Date());
