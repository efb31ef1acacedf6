// Tenants created the way a vendor creates them: through the API, with a real key connection
// (wrap + unwrap validation at the emulator), a service token and one 1 KiB ciphertext each.
// Tenants are spread over the three providers, each with a key of its own (the broker refuses a
// key already connected to another tenant: 409 key_in_use).
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";
import { connectTenant, createVendorKey, type ApiClient, type Stack } from "./stack";

export interface DataTenant {
  slug: string;
  token: string;
  ciphertext: string;
  provider: "aws" | "azure" | "gcp" | "kmip";
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function createDataTenants(stack: Stack, api: ApiClient, n: number, prefix: string): Promise<DataTenant[]> {
  const providers = ["aws", "azure", "gcp"] as const;
  const plaintext = randomBytes(1024);
  return pool([...Array(n).keys()], 8, async (i) => {
    const provider = providers[i % 3]!;
    const slug = `${prefix}-${i}`;
    const key = await createVendorKey(stack, provider);
    const token = await connectTenant(api, slug, provider, key.keyId);
    const r = await api.encrypt(slug, token, plaintext);
    if (r.status !== 200) throw new Error(`encrypt ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
    return { slug, token, ciphertext: r.body.ciphertext as string, provider };
  });
}

/** Decrypt traffic spread round-robin over `tenants` at a fixed overall rate (autocannon, this process). */
export function tenantTraffic(url: string, tenants: DataTenant[], o: { connections: number; rate: number; durationS: number }) {
  let i = 0;
  return autocannon({
    url,
    connections: o.connections,
    overallRate: o.rate,
    duration: o.durationS,
    requests: [
      {
        method: "POST",
        setupRequest: (req) => {
          const t = tenants[i++ % tenants.length]!;
          return {
            ...req,
            path: `/api/v1/tenants/${t.slug}/decrypt`,
            headers: { "content-type": "application/json", authorization: `Bearer ${t.token}` },
            body: JSON.stringify({ ciphertext: t.ciphertext }),
          };
        },
      },
    ],
  });
}
