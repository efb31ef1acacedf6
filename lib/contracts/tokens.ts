// Service token schemas: creation (name and scope, issue 12) and the list. In their own module
// because the scope names data classes (./classes.ts), which in turn builds on ./requests.ts.
import { z } from "zod";
import { ZDataClassName, ZTokenOperation, ZTokenScope } from "./classes";
import { ZSafeString } from "./requests";

export const ZCreateTokenRequest = z.strictObject({
  name: ZSafeString.trim().min(1).max(100),
  operations: z
    .array(ZTokenOperation)
    .min(1, "give at least one operation, or leave operations out for both")
    .max(2)
    .refine((ops) => new Set(ops).size === ops.length, "operations must not repeat")
    .optional()
    .describe("what the token may do: encrypt, decrypt or both (the default)"),
  dataClasses: z
    .array(ZDataClassName)
    .min(1, "give at least one data class, or null (or nothing) for every class")
    .max(64)
    .refine((names) => new Set(names).size === names.length, "data classes must not repeat")
    .nullable()
    .optional()
    .describe("the data classes the token may use, each one the tenant has; null or absent: every class, present and future"),
});
export const ZCreateTokenResponse = z.object({
  id: z.string(),
  token: z.string().describe("shown once"),
  name: z.string(),
  prefix: z.string(),
  createdAt: z.string(),
  scope: ZTokenScope,
});
export const ZTokenList = z.object({
  tokens: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      prefix: z.string(),
      createdAt: z.string(),
      lastUsedAt: z.string().nullable(),
      revokedAt: z.string().nullable(),
      scope: ZTokenScope,
    }),
  ),
});
