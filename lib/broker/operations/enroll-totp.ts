// POST /api/v1/me/factors/totp starts a TOTP enrolment (the seed is shown once, stored sealed:
// lib/auth/factors/seed-box.ts); POST /api/v1/me/factors/{id}/verify confirms it with a first
// code, which is also the factor's first used step (it cannot be replayed as a step-up).
import { authorize } from "../../auth/authorize";
import { openSeed, sealSeed } from "../../auth/factors/seed-box";
import { claimTotpStep, factorView } from "../../auth/factors/store";
import { matchTotp, newTotpSeed, otpauthUrl, base32 } from "../../auth/factors/totp";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { recordFactorEvent, requireConsoleUser } from "./console-user";
import type { OperationBase } from "./types";
// The request and response schemas of these operations' routes (lib/contracts).
export { ZTotpCode, ZTotpEnrollRequest, ZTotpEnrollment } from "../../contracts/quorum";

export async function enrollTotp({ ctx, actor, name }: OperationBase<Pick<BrokerContext, "db" | "config">> & { name: string }) {
  authorize(actor, "account.factor_enroll");
  const user = requireConsoleUser(actor);
  const seed = newTotpSeed();
  try {
    const row = await ctx.db.prisma.consoleFactor.create({ data: { userId: user.userId, kind: "totp", name } });
    const sealed = sealSeed(ctx.config, row.id, seed);
    const f = await ctx.db.prisma.consoleFactor.update({ where: { id: row.id }, data: { totpSeed: sealed } });
    return { factor: factorView(f), secret: base32(seed), otpauthUrl: otpauthUrl("CMEK broker", user.email, seed) };
  } finally {
    seed.fill(0);
  }
}

export async function confirmTotp({ ctx, actor, requestId, id, code }: OperationBase<Pick<BrokerContext, "db" | "config" | "audit" | "logger" | "clock">> & { id: string; code: string }) {
  authorize(actor, "account.factors");
  const user = requireConsoleUser(actor);
  const f = await ctx.db.prisma.consoleFactor.findFirst({ where: { id, userId: user.userId, kind: "totp" } });
  if (!f?.totpSeed) throw new BrokerError("not_found", "no such TOTP factor");
  if (f.verifiedAt) throw new BrokerError("conflict", "this factor is already verified");
  const seed = openSeed(ctx.config, f.id, f.totpSeed);
  if (!seed) throw new BrokerError("step_up_failed", "this factor can no longer be read; remove it and enrol again");
  const step = matchTotp(seed, code, ctx.clock(), f.totpLastStep === null ? null : Number(f.totpLastStep));
  seed.fill(0);
  if (step === null || !(await claimTotpStep(ctx.db, user.userId, f.id, step, true))) {
    throw new BrokerError("step_up_failed", "that code is not correct (or was already used)");
  }
  await recordFactorEvent(ctx, user, "factor.enrolled", { id: f.id, kind: "totp" }, "success", requestId);
  return factorView(await ctx.db.prisma.consoleFactor.findUniqueOrThrow({ where: { id: f.id } }));
}
