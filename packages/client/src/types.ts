// The shapes the client's methods take and give, built on the generated API types.
import type * as G from "./generated/api.js";
import type { DecryptRequest, EncryptRequest, ErrorBody, GeneratedTypes } from "./generated/api.js";
import type { BrokerApiError } from "./errors.js";

export type EncryptionContext = NonNullable<EncryptRequest["context"]>;

/** The API's type by name once lib/contracts declares it (and the file is regenerated), else the fallback. */
type Declared<K extends string, Fallback> = GeneratedTypes extends Record<K, infer T> ? T : Fallback;

// The batch endpoints (issue 14, item 1) take one single call's request per item and answer one
// result per item, in order: the single call's response or an error body. Until their schemas are
// in lib/contracts (and so in generated/api.ts) the envelopes are derived from the single-item types.
type ItemResult<R> = ({ ok: true } & R) | { ok: false; error: Pick<ErrorBody, "code" | "message"> };
export type EncryptBatchRequest = Declared<"EncryptBatchRequest", { items: EncryptRequest[] }>;
export type EncryptBatchResponse = Declared<"EncryptBatchResponse", { results: Array<ItemResult<G.EncryptResponse>> }>;
export type DecryptBatchRequest = Declared<"DecryptBatchRequest", { items: DecryptRequest[] }>;
export type DecryptBatchResponse = Declared<"DecryptBatchResponse", { results: Array<ItemResult<G.DecryptResponse>> }>;

/** Options every call takes. */
export interface CallOptions {
  /** Cancels the call (retries and waits included). */
  signal?: AbortSignal;
  /** This call's time budget in ms, retries included (default: the client's timeoutMs). */
  timeoutMs?: number;
  /** Sent as x-request-id (the audit log's request id); a random UUID by default. */
  requestId?: string;
}

/** Options of one encrypt or decrypt. */
export interface DataOptions extends CallOptions {
  /** Bound into the ciphertext: decrypt needs the same map. */
  context?: EncryptionContext;
  /** Recorded in the audit log (e.g. "billing-export"). */
  purpose?: string;
  /** Encrypt only: the tenant's data class to encrypt for (default `default`); a ciphertext names its class, so decrypt takes none. */
  dataClass?: string;
}

export interface EncryptItem {
  plaintext: Uint8Array | string;
  context?: EncryptionContext;
  purpose?: string;
  /** The tenant's data class to encrypt for (default `default`). */
  dataClass?: string;
}

export interface DecryptItem {
  ciphertext: string;
  context?: EncryptionContext;
  purpose?: string;
}

/** One item's outcome in a batch: its value, or the typed error a single call would have thrown. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: BrokerApiError };
