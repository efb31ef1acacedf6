// Batch encrypt and decrypt: many items of the data path in one request, one result per item.
import { BrokerError } from "../../broker/errors";
import type { BatchResult } from "../../broker/operations/batch-items";
import { decryptBatch, ZDecryptBatchRequest, ZDecryptBatchResponse } from "../../broker/operations/decrypt-batch";
import { encryptBatch, ZEncryptBatchRequest, ZEncryptBatchResponse } from "../../broker/operations/encrypt-batch";
import { MAX_BATCH_BODY_BYTES, MAX_BATCH_ITEMS, type BatchItem } from "../../contracts/batch";
import { defineRoute, type RouteEnv } from "../route";
import { auditRefusal } from "./data";
import { MAX_PLAINTEXT_BYTES, ZError, ZSlugParams } from "../schemas";

const BODY_LIMIT = { bytes: MAX_BATCH_BODY_BYTES, message: `a batch request body is limited to 4 MiB (${MAX_BATCH_BODY_BYTES} bytes); split the batch` };

/** An item as the operation takes it: decoded, or refused as a single request with that body would be. */
function decodeItem<T extends Record<K, string>, K extends string, O>(item: BatchItem<T>, field: K, limit: number, make: (bytes: Buffer, v: T) => O): BatchResult<O> {
  if (!item.ok) return { ok: false, error: new BrokerError("invalid_request", item.message) };
  const bytes = Buffer.from(item.value[field], "base64");
  if (bytes.length > limit) return { ok: false, error: new BrokerError("payload_too_large", `${field} is larger than ${limit} bytes`) };
  return { ok: true, value: make(bytes, item.value) };
}

function itemError(r: { ok: false; error: BrokerError }) {
  return { ok: false as const, error: { code: r.error.code, message: r.error.message } };
}

export function dataBatchRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError, 409: ZError, 413: ZError, 423: ZError, 503: ZError };

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/encrypt/batch",
    summary: `Encrypt up to ${MAX_BATCH_ITEMS} items in one request (body at most 4 MiB); one result per item, in order`,
    tag: "data",
    access: "data.encrypt",
    params: ZSlugParams,
    body: ZEncryptBatchRequest,
    bodyLimit: BODY_LIMIT,
    responses: { 200: ZEncryptBatchResponse, ...errors },
    onRefused: ({ params, requestId, error, caller }) => auditRefusal(ctx, params.slug, "encrypt", requestId, error, caller),
    handler: async ({ params, body, caller, requestId }) => {
      const items = body.items.map((it) => decodeItem(it, "plaintext", MAX_PLAINTEXT_BYTES, (plaintext, v) => ({ plaintext, context: v.context, purpose: v.purpose, dataClass: v.dataClass })));
      const results = await encryptBatch({ ctx, actor: caller!, tenant: params.slug, requestId, items });
      return { results: results.map((r) => (r.ok ? { ok: true as const, ciphertext: r.value.toString("base64") } : itemError(r))) };
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/decrypt/batch",
    summary: `Decrypt up to ${MAX_BATCH_ITEMS} ciphertexts of this tenant in one request (body at most 4 MiB); one result per item, in order`,
    tag: "data",
    access: "data.decrypt",
    params: ZSlugParams,
    body: ZDecryptBatchRequest,
    bodyLimit: BODY_LIMIT,
    responses: { 200: ZDecryptBatchResponse, ...errors },
    onRefused: ({ params, requestId, error, caller }) => auditRefusal(ctx, params.slug, "decrypt", requestId, error, caller),
    handler: async ({ params, body, caller, requestId }) => {
      const items = body.items.map((it) => decodeItem(it, "ciphertext", MAX_PLAINTEXT_BYTES + 1024, (ciphertext, v) => ({ ciphertext, context: v.context, purpose: v.purpose })));
      const results = await decryptBatch({ ctx, actor: caller!, tenant: params.slug, requestId, items });
      const out = results.map((r) => {
        if (!r.ok) return itemError(r);
        const plaintext = r.value.toString("base64");
        r.value.fill(0);
        return { ok: true as const, plaintext };
      });
      return { results: out };
    },
  });
}
