// Field-level encryption: selected fields of an object are encrypted, each with its field path bound
// into the context (key FIELD_CONTEXT_KEY), so a ciphertext moved to another field does not decrypt.
// All fields of one call go out as one batch request.
import type { BrokerApiError } from "./errors.js";
import type { BatchResult, CallOptions, DecryptItem, EncryptionContext, EncryptItem } from "./types.js";

/** The context key the field path is bound under (a caller's context may not use it). */
export const FIELD_CONTEXT_KEY = "cmek:field";

export interface FieldOptions extends CallOptions {
  /** Bound into every field's ciphertext besides the field path (e.g. { table: "users", id }). */
  context?: EncryptionContext;
  purpose?: string;
}

interface BatchCalls {
  encryptBatch(items: readonly EncryptItem[], opts?: CallOptions): Promise<Array<BatchResult<string>>>;
  decryptBatch(items: readonly DecryptItem[], opts?: CallOptions): Promise<Array<BatchResult<Buffer>>>;
}

/** A path like "address.street" or "cards[].number" ([] selects every element of an array). */
type Found = { path: string; holder: Record<string, unknown> | unknown[]; key: string | number };

function select(root: unknown, path: string): Found[] {
  const parts = path.split(".");
  let at: Array<{ value: unknown }> = [{ value: root }];
  const found: Found[] = [];
  parts.forEach((raw, i) => {
    const each = raw.endsWith("[]");
    const name = each ? raw.slice(0, -2) : raw;
    const last = i === parts.length - 1;
    const next: Array<{ value: unknown }> = [];
    for (const { value } of at) {
      if (value === null || typeof value !== "object" || !Object.hasOwn(value, name)) continue;
      const v = (value as Record<string, unknown>)[name];
      if (!each) {
        if (last) found.push({ path, holder: value as Record<string, unknown>, key: name });
        else next.push({ value: v });
      } else if (Array.isArray(v)) {
        v.forEach((el, j) => (last ? found.push({ path, holder: v, key: j }) : next.push({ value: el })));
      }
    }
    at = next;
  });
  // Absent and null fields are left as they are: there is nothing to protect.
  return found.filter((f) => (f.holder as Record<string | number, unknown>)[f.key] != null);
}

function contextFor(path: string, context: EncryptionContext | undefined): EncryptionContext {
  if (context && Object.hasOwn(context, FIELD_CONTEXT_KEY)) throw new TypeError(`the context key ${FIELD_CONTEXT_KEY} is reserved for the field path`);
  return { ...context, [FIELD_CONTEXT_KEY]: path };
}

function fail(error: BrokerApiError, path: string): never {
  error.field = path;
  throw error;
}

/**
 * A deep copy of `obj` whose selected fields hold ciphertexts (base64 strings). A value is encrypted as
 * its JSON text, so numbers, booleans, objects and arrays come back as they were. Throws the first
 * failed field's typed error, with `error.field` set to its path.
 */
export async function encryptFields<T>(client: BatchCalls, obj: T, paths: readonly string[], opts: FieldOptions = {}): Promise<T> {
  const copy = structuredClone(obj);
  const found = paths.flatMap((p) => select(copy, p));
  const results = await client.encryptBatch(
    found.map((f) => ({ plaintext: JSON.stringify((f.holder as Record<string | number, unknown>)[f.key]), context: contextFor(f.path, opts.context), purpose: opts.purpose })),
    opts,
  );
  results.forEach((r, i) => {
    const f = found[i]!;
    if (!r.ok) fail(r.error, f.path);
    (f.holder as Record<string | number, unknown>)[f.key] = r.value;
  });
  return copy;
}

/** The inverse of encryptFields, with the same paths and context. */
export async function decryptFields<T>(client: BatchCalls, obj: T, paths: readonly string[], opts: FieldOptions = {}): Promise<T> {
  const copy = structuredClone(obj);
  const found = paths.flatMap((p) => select(copy, p));
  const results = await client.decryptBatch(
    found.map((f) => {
      const v = (f.holder as Record<string | number, unknown>)[f.key];
      if (typeof v !== "string") throw new TypeError(`field ${f.path} holds no ciphertext`);
      return { ciphertext: v, context: contextFor(f.path, opts.context), purpose: opts.purpose };
    }),
    opts,
  );
  results.forEach((r, i) => {
    const f = found[i]!;
    if (!r.ok) fail(r.error, f.path);
    (f.holder as Record<string | number, unknown>)[f.key] = JSON.parse(r.value.toString("utf8"));
  });
  return copy;
}
