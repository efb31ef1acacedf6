// A small client for the broker's HTTP API, shared by the tests, the end-to-end stack and the
// benchmarks: JSON in, status, parsed body and headers out.

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

/** Response bodies are read field by field by the callers, whose assertions check them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- deliberately untyped JSON, see above
export type Json = any;

export interface ApiResponse<T = Json> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async call<T = Json>(method: string, path: string, opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      /* non-JSON (metrics) */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  admin = <T = Json>(method: string, path: string, body?: unknown) => this.call<T>(method, path, { token: ADMIN_TOKEN, body });

  async createTenant(slug: string): Promise<void> {
    const r = await this.admin("POST", "/api/v1/tenants", { slug, name: slug });
    if (r.status !== 201) throw new Error(`create tenant: ${r.status} ${JSON.stringify(r.body)}`);
  }

  async connect(slug: string, provider: string, keyId: string): Promise<ApiResponse> {
    return this.admin("PUT", `/api/v1/tenants/${slug}/key`, { provider, keyId });
  }

  async token(slug: string): Promise<string> {
    const r = await this.admin("POST", `/api/v1/tenants/${slug}/tokens`, { name: "svc" });
    if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.token;
  }

  encrypt(slug: string, token: string, plaintext: Buffer | string, context?: Record<string, string>, purpose?: string) {
    return this.call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext: Buffer.from(plaintext).toString("base64"), context, purpose } });
  }

  decrypt(slug: string, token: string, ciphertext: string, context?: Record<string, string>, purpose?: string) {
    return this.call("POST", `/api/v1/tenants/${slug}/decrypt`, { token, body: { ciphertext, context, purpose } });
  }

  /** A tenant with a connected key and a service token, ready for the data path. */
  async readyTenant(slug: string, provider: string, keyId: string): Promise<string> {
    await this.createTenant(slug);
    const c = await this.connect(slug, provider, keyId);
    if (c.status !== 200) throw new Error(`connect: ${c.status} ${JSON.stringify(c.body)}`);
    return this.token(slug);
  }
}
