// The base of every string that crosses a boundary (HTTP bodies, queries and params; fleet filters):
// NUL cannot be stored in PostgreSQL text (it answered 500) and lone surrogates are not text.
// It lives below lib/broker and lib/http so both layers can use it.
import { z } from "zod";

export function isSafeText(s: string): boolean {
  // String.prototype.isWellFormed (ES2024) is in Node 20+, not yet in this project's TypeScript lib.
  return !s.includes("\u0000") && (s as string & { isWellFormed(): boolean }).isWellFormed();
}

export const SAFE_TEXT_MESSAGE = "must not contain NUL characters or unpaired surrogates";

/** Refuses NUL characters and unpaired surrogates (400 at the HTTP edge). */
export const ZSafeString = z.string().refine(isSafeText, SAFE_TEXT_MESSAGE);
