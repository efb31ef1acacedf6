// The console's client for /api/v1: same-origin cookie auth, the CSRF header the API requires
// for cookie-authenticated mutations, and the API's error envelope as a typed error.
import type { ErrorBody } from "@/lib/http/schemas/errors";

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The envelope's `error` member (lib/http/schemas/errors.ts); partial, since a proxy may answer instead of the API. */
    readonly body: Partial<ErrorBody> = {},
  ) {
    super(message);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-cmek-csrf"] = "1";
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), credentials: "same-origin", signal: init.signal, cache: "no-store" });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network_error", "Could not reach the broker. Check your connection and try again.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `The broker answered HTTP ${res.status}.`, (err ?? {}) as Partial<ErrorBody>);
  }
  return json as T;
}

export const tenantPath = (slug: string, rest = "") => `/api/v1/tenants/${encodeURIComponent(slug)}${rest}`;
