// POST /api/v1/me/factors/passkey/options and POST /api/v1/me/factors/passkey: a passkey
// (WebAuthn) registration ceremony. The challenge is kept on the user and consumed by the answer.
import { authorize } from "../../auth/authorize";
import { registrationOptions, relyingParty, verifyRegistration } from "../../auth/factors/passkeys";
import { factorView, listFactors, passkeysOf, saveChallenge, takeChallenge } from "../../auth/factors/store";
import { ActiveUserCache } from "../../auth/users";
import type { BrokerContext } from "../context";
import { BrokerError } from "../errors";
import { recordFactorEvent, requireConsoleUser } from "./console-user";
import type { OperationBase } from "./types";
// The request and response schemas of these operations' routes (lib/contracts).
export { ZPasskeyEnrollRequest, ZPasskeyRegistrationOptions } from "../../contracts/quorum";

type Deps = Pick<BrokerContext, "db" | "config" | "audit" | "logger">;

function rpOf(ctx: Pick<BrokerContext, "config">, origin: string | undefined) {
  const rp = relyingParty(ctx.config.NEXTAUTH_URL, origin);
  if (!rp) throw new BrokerError("invalid_request", "passkeys need the console's origin (NEXTAUTH_URL or the request's Origin header)");
  return rp;
}

export async function passkeyRegistrationOptions({ ctx, actor, origin }: OperationBase<Deps> & { origin: string | undefined }) {
  authorize(actor, "account.factor_enroll");
  const user = requireConsoleUser(actor);
  const options = await registrationOptions(rpOf(ctx, origin), { id: user.userId, email: user.email }, passkeysOf(await listFactors(ctx.db, user.userId)));
  await saveChallenge(ctx.db, user.userId, options.challenge);
  return options;
}

export async function enrollPasskey({ ctx, actor, requestId, origin, name, credential }: OperationBase<Deps> & { origin: string | undefined; name: string; credential: unknown }) {
  authorize(actor, "account.factor_enroll");
  const user = requireConsoleUser(actor);
  const challenge = await takeChallenge(ctx.db, user.userId);
  if (!challenge) throw new BrokerError("step_up_failed", "no pending passkey registration (or it expired); start again");
  let key;
  try {
    key = await verifyRegistration(rpOf(ctx, origin), challenge, credential);
  } catch (e) {
    throw new BrokerError("step_up_failed", `the passkey registration did not verify: ${(e as Error).message.slice(0, 200)}`);
  }
  if (!key) throw new BrokerError("step_up_failed", "the passkey registration did not verify");
  const f = await ctx.db.prisma.consoleFactor.create({
    data: {
      userId: user.userId,
      kind: "passkey",
      name,
      credentialId: key.credentialId,
      publicKey: Buffer.from(key.publicKey),
      counter: key.counter,
      transports: key.transports,
      verifiedAt: new Date(),
    },
  });
  ActiveUserCache.forgetEverywhere(user.userId);
  await recordFactorEvent(ctx, user, "factor.enrolled", { id: f.id, kind: "passkey" }, "success", requestId);
  return factorView(f);
}
