// A console user's factors in console_factor, the pending WebAuthn challenge and the last
// step-up time on console_user. Every query names the user: a factor id alone never suffices.
import type { Database } from "../../db/database";
import type { Prisma } from "../../db/generated/client";
import { ActiveUserCache } from "../users";
import type { StoredPasskey } from "./passkeys";

/** A WebAuthn challenge is good for 5 minutes. */
export const CHALLENGE_TTL_MS = 5 * 60 * 1000;

export type FactorRow = Prisma.ConsoleFactorGetPayload<object>;

export function factorView(f: FactorRow) {
  return { id: f.id, kind: f.kind as "totp" | "passkey", name: f.name, verified: f.verifiedAt !== null, createdAt: f.createdAt.toISOString(), lastUsedAt: f.lastUsedAt?.toISOString() ?? null };
}

export function listFactors(db: Database, userId: string): Promise<FactorRow[]> {
  return db.prisma.consoleFactor.findMany({ where: { userId }, orderBy: { createdAt: "asc" } });
}

export function passkeysOf(rows: FactorRow[]): Array<StoredPasskey & { factorId: string }> {
  return rows
    .filter((f) => f.kind === "passkey" && f.verifiedAt && f.credentialId && f.publicKey)
    .map((f) => ({
      factorId: f.id,
      credentialId: f.credentialId!,
      publicKey: new Uint8Array(f.publicKey!),
      counter: Number(f.counter ?? 0),
      transports: Array.isArray(f.transports) ? (f.transports as string[]) : [],
    }));
}

export async function saveChallenge(db: Database, userId: string, challenge: string): Promise<void> {
  await db.prisma.consoleUser.update({ where: { id: userId }, data: { webauthnChallenge: challenge, webauthnChallengeAt: new Date() } });
}

/** The pending challenge, consumed: one challenge answers one ceremony. */
export async function takeChallenge(db: Database, userId: string): Promise<string | null> {
  const u = await db.prisma.consoleUser.findUnique({ where: { id: userId }, select: { webauthnChallenge: true, webauthnChallengeAt: true } });
  if (!u?.webauthnChallenge || !u.webauthnChallengeAt) return null;
  const taken = await db.prisma.consoleUser.updateMany({ where: { id: userId, webauthnChallenge: u.webauthnChallenge }, data: { webauthnChallenge: null, webauthnChallengeAt: null } });
  if (taken.count !== 1 || Date.now() - u.webauthnChallengeAt.getTime() > CHALLENGE_TTL_MS) return null;
  return u.webauthnChallenge;
}

/** Records a step-up now; every cache of this process forgets the user so it applies at once. */
export async function markSteppedUp(db: Database, userId: string, factorId: string): Promise<Date> {
  const at = new Date();
  await db.prisma.consoleUser.update({ where: { id: userId }, data: { stepUpAt: at } });
  await db.prisma.consoleFactor.updateMany({ where: { id: factorId, userId }, data: { lastUsedAt: at } });
  ActiveUserCache.forgetEverywhere(userId);
  return at;
}

/**
 * Claims a TOTP step for the factor: succeeds only if it is after the last used step, so a code
 * is accepted once even when two requests race on two instances.
 */
export async function claimTotpStep(db: Database, userId: string, factorId: string, step: number, verify: boolean): Promise<boolean> {
  const r = await db.query<{ id: string }>(
    `UPDATE console_factor SET totp_last_step = $3, verified_at = CASE WHEN $4 THEN COALESCE(verified_at, now()) ELSE verified_at END
      WHERE id = $1 AND user_id = $2 AND kind = 'totp' AND (totp_last_step IS NULL OR totp_last_step < $3) RETURNING id`,
    [factorId, userId, step, verify],
  );
  if (r.length === 1 && verify) ActiveUserCache.forgetEverywhere(userId);
  return r.length === 1;
}
