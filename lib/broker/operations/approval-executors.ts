// What runs when a request gets its M-th approval: one executor per protected action, keyed by
// action. Each re-validates the stored parameters with the action's own request schema (a row
// edited in the database, or written by an older version, fails here instead of running) and
// calls the original operation with `approved: true`, so the operation repeats every check it
// makes (permissions, tenant, key validation) and has its usual effect and audit entries.
// Shredding's executor joins here when lib/broker/operations/shred-tenant.ts lands (README.md).
import { z } from "zod";
import type { Caller } from "../../auth/caller";
import { ZAlertThresholdsRequest, ZBreakGlassRequest, ZMaintenanceWindowRequest, ZPurposePolicyRequest, ZTimeZoneRequest, ZAccessWindowsRequest } from "../../contracts/governance";
import { ZQuorumPolicyRequest, type QuorumAction } from "../../contracts/quorum";
import { ZAuditRetentionRequest } from "../../contracts/route-requests";
import { ZDataClassName } from "../../contracts/classes";
import { ZConnectKeyRequest, ZCreateTokenRequest } from "../../contracts/requests";
import type { BrokerContext } from "../context";
import { addMaintenanceWindow } from "./add-maintenance-window";
import { setAlertThresholds } from "./alert-thresholds";
import { connectClassKey } from "./connect-class-key";
import { connectKey } from "./connect-key";
import { grantBreakGlass } from "./grant-break-glass";
import { setAccessWindows } from "./set-access-windows";
import { setAuditRetention } from "./set-audit-retention";
import { setPurposePolicy } from "./set-purpose-policy";
import { setTimeZone } from "./set-time-zone";
import { shredTenant, ZShredRequest } from "./shred-tenant";
import { unlockTenant } from "./unlock-tenant";
import { setQuorumPolicy } from "./set-quorum-policy";

export interface ExecutorRun {
  ctx: BrokerContext;
  /** The admin whose approval completed the quorum (fresh, a tenant admin): the operation runs as them. */
  actor: Caller;
  tenant: string;
  requestId?: string;
  params: unknown;
}

type Executor = (run: ExecutorRun) => Promise<unknown>;

const ZTokenId = z.strictObject({ tokenId: z.uuid() });

/** governance.policy covers several resources; the stored params say which. */
const policyExecutors: Record<string, Executor> = {
  purpose_policy: async ({ ctx, actor, tenant, requestId, params }) => {
    const p = ZPurposePolicyRequest.extend(ZTokenId.shape).parse(params);
    return setPurposePolicy({ ctx, actor, tenant, requestId, approved: true, ...p });
  },
  access_windows: async ({ ctx, actor, tenant, requestId, params }) => {
    const p = ZAccessWindowsRequest.extend(ZTokenId.shape).parse(params);
    return setAccessWindows({ ctx, actor, tenant, requestId, approved: true, ...p });
  },
  time_zone: async ({ ctx, actor, tenant, requestId, params }) => setTimeZone({ ctx, actor, tenant, requestId, approved: true, ...ZTimeZoneRequest.parse(params) }),
  maintenance_window: async ({ ctx, actor, tenant, requestId, params }) => addMaintenanceWindow({ ctx, actor, tenant, requestId, approved: true, ...ZMaintenanceWindowRequest.parse(params) }),
  alert_thresholds: async ({ ctx, actor, tenant, requestId, params }) => setAlertThresholds({ ctx, actor, tenant, requestId, approved: true, changes: ZAlertThresholdsRequest.parse(params) }),
};

const ZPolicyParams = z.looseObject({ resource: z.string() });

export const EXECUTORS: Record<QuorumAction, Executor> = {
  "tenant.unlock": async ({ ctx, actor, tenant, requestId, params }) => {
    const { dataClass } = z.strictObject({ dataClass: ZDataClassName.optional() }).parse(params);
    return unlockTenant({ ctx, actor, tenant, requestId, approved: true, dataClass });
  },
  // A data class's key switch carries its class (lib/broker/key-connect.ts); `default`'s does not.
  "key.connect": async ({ ctx, actor, tenant, requestId, params }) => {
    const { dataClass, ...key } = ZConnectKeyRequest.extend({ dataClass: ZDataClassName.optional() }).parse(params);
    if (dataClass !== undefined) return connectClassKey({ ctx, actor, tenant, requestId, approved: true, dataClass, ...key });
    return connectKey({ ctx, actor, tenant, requestId, approved: true, ...key });
  },
  "tenant.shred": async ({ ctx, actor, tenant, requestId, params }) => shredTenant({ ctx, actor, tenant, requestId, approved: true, ...ZShredRequest.parse(params) }),
  "token.create": ({ params }) => {
    // Nothing is created here: the token's secret is shown once, to whoever creates it, so the
    // approval lets the requester send the same request again and run it once (approvalGate).
    ZCreateTokenRequest.parse(params);
    return Promise.resolve({ claimableBy: "requester" });
  },
  "audit.retention": async ({ ctx, actor, tenant, requestId, params }) => setAuditRetention({ ctx, actor, tenant, requestId, approved: true, ...ZAuditRetentionRequest.parse(params) }),
  "governance.break_glass": async ({ ctx, actor, tenant, requestId, params }) => grantBreakGlass({ ctx, actor, tenant, requestId, approved: true, ...ZBreakGlassRequest.parse(params) }),
  "governance.policy": async (run) => {
    const { resource, ...rest } = ZPolicyParams.parse(run.params);
    const exec = policyExecutors[resource];
    if (!exec) throw new Error(`no executor for governance.policy resource ${resource}`);
    return exec({ ...run, params: rest });
  },
  "quorum.policy": async ({ ctx, actor, tenant, requestId, params }) => setQuorumPolicy({ ctx, actor, tenant, requestId, approved: true, ...ZQuorumPolicyRequest.parse(params) }),
};
