// The name of a data class (issue 12), on its own so that the data path's request schemas
// (./requests.ts) and the class resources (./classes.ts, which imports ./requests.ts) share it.
import { z } from "zod";

/** A class name: a small alphabet, so it is safe in URLs, headers, metrics labels and audit entries. */
export const ZDataClassName = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z][a-z0-9_-]*$/, "lowercase letters, digits, '_' and '-', starting with a letter (at most 32)")
  .describe("a data class of the tenant; `default` always exists");
