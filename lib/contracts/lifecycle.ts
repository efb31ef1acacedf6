// Response schemas of the key lifecycle routes (GET/POST /api/v1/tenants/{slug}/lifecycle...):
// which DEKs depend on which key and version, and the tenant's re-wrap job.
import { z } from "zod";
import { ZKmsProviderName } from "./providers";

export const ZLifecycleVersion = z.object({
  version: z.string().nullable().describe("the key version that wrapped these DEKs; null: unknown (written before versions were recorded)"),
  deks: z.number().int(),
  current: z.boolean().describe("the version new DEKs are wrapped under"),
  safeToDisable: z.boolean().describe("no DEK depends on this version any more and it is not the current one: it is safe to disable"),
});

export const ZLifecycleKey = z.object({
  connectionId: z.string(),
  provider: ZKmsProviderName,
  keyRef: z.string(),
  status: z.enum(["connected", "retiring", "replaced"]).describe("retiring: the tenant is moving away from it; still read and probed until no DEK depends on it"),
  deks: z.number().int(),
  versions: z.array(ZLifecycleVersion),
  safeToRevoke: z.boolean().describe("not the connected key and no DEK depends on it: revoking it has no effect on the tenant"),
});

export const ZRewrapJob = z.object({
  id: z.string(),
  state: z.enum(["running", "paused", "completed", "cancelled"]),
  cause: z.enum(["key_switch", "rotation", "manual", "cancel_switch", "add_secondary"]).describe("add_secondary: gives every DEK of a class a form under its new secondary key"),
  pauseCause: z.string().nullable().describe("tenant_locked, revoked, retiring_key_revoked, kms_unavailable or kms_throttled"),
  done: z.number().int().describe("DEKs handled (re-wrapped or failed)"),
  rewrapped: z.number().int(),
  failed: z.number().int().describe("DEKs the KMS rejected; they keep their earlier wrapped form"),
  total: z.number().int(),
  percent: z.number().describe("0-100"),
  ratePerSecond: z.number().nullable().describe("DEKs per second since the job started"),
  etaSeconds: z.number().nullable(),
  startedAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});

export const ZLifecycle = z.object({
  tenant: z.string().describe("slug"),
  totalDeks: z.number().int(),
  staleDeks: z.number().int().describe("DEKs not under the connected key's current version (the re-wrap job's work)"),
  keys: z.array(ZLifecycleKey).describe("the connected key first, then retiring keys, then replaced ones, newest first within each"),
  job: ZRewrapJob.nullable().describe("the open job, else the most recent one; null if the tenant never had one"),
});
export type Lifecycle = z.infer<typeof ZLifecycle>;
