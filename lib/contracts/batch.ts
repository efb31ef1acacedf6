// Batch and stream schemas of the data path. A batch carries up to MAX_BATCH_ITEMS items, each
// exactly a single request's body (ZEncryptRequest / ZDecryptRequest); an item that does not
// match is answered in its own result (invalid_request) instead of failing the batch, so one
// bad item never costs the others. Results come back in item order.
import { z, type ZodType } from "zod";
import { ZDataClassName } from "./data-class-name";
import { ZDecryptRequest, ZEncryptRequest, ZPurpose, ZSafeString } from "./requests";
import { ZErrorCode } from "./errors";

export const MAX_BATCH_ITEMS = 1000;
/** The whole batch request body (JSON, base64 items included). */
export const MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024;

/** An item as the batch operation gets it: parsed, or the reason it does not parse. */
export type BatchItem<T> = { ok: true; value: T } | { ok: false; message: string };

/** Each item parses on its own: the documented (and typed) schema is the single request's. */
function batchItem<S extends ZodType>(item: S) {
  return item
    .transform((value): BatchItem<z.output<S>> => ({ ok: true, value }))
    .catch((c): BatchItem<z.output<S>> => ({
      ok: false,
      message: c.error.issues
        .slice(0, 3)
        .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
        .join("; ")
        .slice(0, 300),
    }));
}

function batchRequest<S extends ZodType>(item: S, what: string) {
  return z.strictObject({
    items: z
      .array(batchItem(item))
      .min(1, "a batch needs at least one item")
      .max(MAX_BATCH_ITEMS, `a batch holds at most ${MAX_BATCH_ITEMS} items; split larger ones`)
      .describe(`1 to ${MAX_BATCH_ITEMS} items, each exactly the body of a single ${what} request; the whole body is at most 4 MiB`),
  });
}

export const ZEncryptBatchRequest = batchRequest(ZEncryptRequest, "encrypt");
export const ZDecryptBatchRequest = batchRequest(ZDecryptRequest, "decrypt");

/** An item's refusal: the code and message a single request would have been answered with. */
export const ZBatchItemError = z.object({ code: ZErrorCode, message: z.string() });

const failed = z.object({ ok: z.literal(false), error: ZBatchItemError });
export const ZEncryptBatchResponse = z.object({
  results: z.array(z.discriminatedUnion("ok", [z.object({ ok: z.literal(true), ciphertext: z.string() }), failed])).describe("one per item, in item order"),
});
export const ZDecryptBatchResponse = z.object({
  results: z.array(z.discriminatedUnion("ok", [z.object({ ok: z.literal(true), plaintext: z.string() }), failed])).describe("one per item, in item order"),
});

/** Request headers of the stream routes: the context and purpose a JSON body would carry. */
export const ZStreamHeaders = z.object({
  "x-cmek-context": ZSafeString.max(96 * 1024)
    .regex(/^[A-Za-z0-9_-]*={0,2}$/, "must be base64url (padding optional) of a JSON object of strings")
    .optional()
    .describe("base64url of the JSON encryption context object ({\"k\": \"v\"}); the same context must be given to decrypt"),
  "x-cmek-purpose": ZPurpose.optional(),
  "x-cmek-data-class": ZDataClassName.optional().describe("encrypt only: the data class to encrypt for (default `default`); a decrypted stream names its class itself"),
});
