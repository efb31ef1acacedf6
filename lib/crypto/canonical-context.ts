// The caller's encryption context, made canonical so that {a,b} and {b,a} bind the same bytes.
// Sorted [key, value] pairs in JSON leave no room for ambiguity (no separator injection).
export type EncryptionContext = Record<string, string>;

export function canonicalContext(context: EncryptionContext | undefined): Buffer {
  const pairs = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(pairs), "utf8");
}
