// GET /api/v1/me/factors and DELETE /api/v1/me/factors/{id}: the signed-in user's step-up
// factors. Removing one needs a fresh step-up (or password, for a user left without factors).
import { authorize } from "../../auth/authorize";
import { factorView, listFactors } from "../../auth/factors/store";
import { ActiveUserCache } from "../../auth/users";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { recordFactorEvent, requireConsoleUser } from "./console-user";
import type { OperationBase } from "./types";
// The response schemas of these operations' routes (lib/contracts).
export { ZFactor, ZFactorList, ZFactorParams } from "../../contracts/quorum";

export async function listMyFactors({ ctx, actor }: OperationBase<Pick<BrokerContext, "db">>) {
  authorize(actor, "account.factors");
  const user = requireConsoleUser(actor);
  return { factors: (await listFactors(ctx.db, user.userId)).map(factorView), stepUpRequired: user.stepUpRequired === true };
}

export async function removeFactor({ ctx, actor, requestId, id }: OperationBase<Pick<BrokerContext, "db" | "audit" | "logger">> & { id: string }) {
  authorize(actor, "account.factor_enroll");
  const user = requireConsoleUser(actor);
  const f = await ctx.db.prisma.consoleFactor.findFirst({ where: { id, userId: user.userId } });
  if (!f) throw new BrokerError("not_found", "no such factor");
  await ctx.db.prisma.consoleFactor.deleteMany({ where: { id, userId: user.userId } });
  ActiveUserCache.forgetEverywhere(user.userId);
  await recordFactorEvent(ctx, user, "factor.removed", { id, kind: f.kind as "totp" | "passkey" }, "success", requestId);
  return factorView(f);
}
