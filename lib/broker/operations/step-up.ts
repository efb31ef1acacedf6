// POST /api/v1/me/step-up/challenge and POST /api/v1/me/step-up: the fresh sign-in of a user
// with a factor is a passkey assertion or a TOTP code, not a password. A success is recorded on
// the user (console_user.step_up_at) and lets sensitive actions through for 5 minutes
// (REAUTH_WINDOW_MS); a failure is audited and refused with step_up_failed.
import { authorize } from "../../auth/authorize";
import { authenticationOptions, relyingParty, verifyAuthentication } from "../../auth/factors/passkeys";
import { openSeed } from "../../auth/factors/seed-box";
import { claimTotpStep, listFactors, markSteppedUp, passkeysOf, saveChallenge, takeChallenge } from "../../auth/factors/store";
import { matchTotp } from "../../auth/factors/totp";
import { REAUTH_WINDOW_MS } from "../../auth/permissions";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { recordFactorEvent, requireConsoleUser } from "./console-user";
import type { OperationBase } from "./types";
// The request and response schemas of these operations' routes (lib/contracts).
export { ZStepUpChallenge, ZStepUpRequest, ZStepUpResult } from "../../contracts/quorum";

type Deps = Pick<BrokerContext, "db" | "config" | "audit" | "logger" | "clock">;
export type StepUpProof = { kind: "totp"; code: string } | { kind: "passkey"; credential: { id: string } & Record<string, unknown> };

export async function stepUpChallenge({ ctx, actor, origin }: OperationBase<Deps> & { origin: string | undefined }) {
  authorize(actor, "account.step_up");
  const user = requireConsoleUser(actor);
  const factors = (await listFactors(ctx.db, user.userId)).filter((f) => f.verifiedAt);
  const keys = passkeysOf(factors);
  const rp = relyingParty(ctx.config.NEXTAUTH_URL, origin);
  let passkey = null;
  if (keys.length && rp) {
    passkey = await authenticationOptions(rp, keys);
    await saveChallenge(ctx.db, user.userId, passkey.challenge);
  }
  return { totp: factors.some((f) => f.kind === "totp"), passkey };
}

export async function stepUp({ ctx, actor, requestId, origin, proof }: OperationBase<Deps> & { origin: string | undefined; proof: StepUpProof }) {
  authorize(actor, "account.step_up");
  const user = requireConsoleUser(actor);
  const factorId = proof.kind === "totp" ? await checkTotp(ctx, user.userId, proof.code) : await checkPasskey(ctx, user.userId, origin, proof.credential);
  if (!factorId) {
    await recordFactorEvent(ctx, user, "step_up", { id: null, kind: proof.kind }, "denied", requestId);
    throw new BrokerError("step_up_failed", proof.kind === "totp" ? "that code is not correct (or was already used)" : "the passkey assertion did not verify");
  }
  const at = await markSteppedUp(ctx.db, user.userId, factorId);
  await recordFactorEvent(ctx, user, "step_up", { id: factorId, kind: proof.kind }, "success", requestId);
  return { stepUpUntil: new Date(at.getTime() + REAUTH_WINDOW_MS).toISOString() };
}

/** The first verified TOTP factor the code matches (and whose step it claims), or null. */
async function checkTotp(ctx: Deps, userId: string, code: string): Promise<string | null> {
  for (const f of await listFactors(ctx.db, userId)) {
    if (f.kind !== "totp" || !f.verifiedAt || !f.totpSeed) continue;
    const seed = openSeed(ctx.config, f.id, f.totpSeed);
    if (!seed) continue;
    const step = matchTotp(seed, code, ctx.clock(), f.totpLastStep === null ? null : Number(f.totpLastStep));
    seed.fill(0);
    if (step !== null && (await claimTotpStep(ctx.db, userId, f.id, step, false))) return f.id;
  }
  return null;
}

async function checkPasskey(ctx: Deps, userId: string, origin: string | undefined, credential: { id: string }): Promise<string | null> {
  const challenge = await takeChallenge(ctx.db, userId);
  const rp = relyingParty(ctx.config.NEXTAUTH_URL, origin);
  const key = passkeysOf(await listFactors(ctx.db, userId)).find((k) => k.credentialId === credential.id);
  if (!challenge || !rp || !key) return null;
  let counter: number | null;
  try {
    counter = await verifyAuthentication(rp, challenge, credential, key);
  } catch {
    // A malformed or forged assertion: the same answer as a failed one (audited by the caller).
    return null;
  }
  if (counter === null) return null;
  await ctx.db.prisma.consoleFactor.updateMany({ where: { id: key.factorId, userId }, data: { counter } });
  return key.factorId;
}
