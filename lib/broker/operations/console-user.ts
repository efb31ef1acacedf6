// The console user an account operation acts on (factors, step-up): a console session only,
// and the audit entry of a user who has a tenant (vendor operators' go to the server log).
import { actorOf, type Caller, type ConsoleCaller } from "../../auth/caller";
import type { AuditAction } from "../../audit/types";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";

export function requireConsoleUser(actor: Caller): ConsoleCaller {
  if (actor.kind !== "console") throw new BrokerError("forbidden", "factors belong to console users; sign in to the console");
  return actor;
}

export async function recordFactorEvent(
  ctx: Pick<BrokerContext, "audit" | "logger">,
  user: ConsoleCaller,
  action: Extract<AuditAction, "factor.enrolled" | "factor.removed" | "step_up">,
  factor: { id: string | null; kind: "totp" | "passkey" },
  outcome: "success" | "denied",
  requestId?: string,
): Promise<void> {
  if (!user.tenantId) {
    ctx.logger.info({ userId: user.userId, action, kind: factor.kind, outcome }, "console factor event");
    return;
  }
  await ctx.audit.record({ tenantId: user.tenantId, actor: actorOf(user), action, outcome, requestId, detail: { factorId: factor.id, kind: factor.kind } });
}
