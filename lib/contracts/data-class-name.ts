// The name of a data class (issue 12), on its own so that the data path's request schemas
// (./requests.ts) and the class resources (./classes.ts, which imports ./requests.ts) share it.
import { z } from "zod";
import { DATA_CLASS_NAME_MAX, DATA_CLASS_NAME_PATTERN, DATA_CLASS_NAME_RULE } from "./class-name";

/** A class name: a small alphabet, so it is safe in URLs, headers, metrics labels and audit entries. */
export const ZDataClassName = z
  .string()
  .min(1)
  .max(DATA_CLASS_NAME_MAX)
  .regex(DATA_CLASS_NAME_PATTERN, DATA_CLASS_NAME_RULE)
  .describe("a data class of the tenant; `default` always exists");
