// Passkeys (WebAuthn) through @simplewebauthn/server: registration and authentication options,
// and verification of the browser's answer against the pending challenge, our origin and RP ID.
// The RP ID is the console's host name (NEXTAUTH_URL's, else the request's origin, which the
// session resolver has already checked against the Host header for state-changing requests).
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";

export const RP_NAME = "CMEK broker console";

export interface RelyingParty {
  rpID: string;
  origin: string;
}

export interface StoredPasskey {
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
}

export function relyingParty(publicOrigin: string | undefined, requestOrigin: string | undefined): RelyingParty | null {
  const raw = publicOrigin ?? requestOrigin;
  if (!raw) return null;
  try {
    const u = new URL(raw);
    return { rpID: u.hostname, origin: u.origin };
  } catch {
    return null;
  }
}

const transportsOf = (t: string[]) => t as AuthenticatorTransport[];

export function registrationOptions(rp: RelyingParty, user: { id: string; email: string }, existing: StoredPasskey[]) {
  return generateRegistrationOptions({
    rpName: RP_NAME,
    rpID: rp.rpID,
    userName: user.email,
    userID: new TextEncoder().encode(user.id),
    attestationType: "none",
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: transportsOf(c.transports) })),
    authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
  });
}

export async function verifyRegistration(rp: RelyingParty, challenge: string, response: unknown): Promise<StoredPasskey | null> {
  const v = await verifyRegistrationResponse({
    response: response as RegistrationResponseJSON,
    expectedChallenge: challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.rpID,
    requireUserVerification: true,
  });
  if (!v.verified) return null;
  const c = v.registrationInfo.credential;
  return { credentialId: c.id, publicKey: c.publicKey, counter: c.counter, transports: c.transports ?? [] };
}

export function authenticationOptions(rp: RelyingParty, keys: StoredPasskey[]) {
  return generateAuthenticationOptions({
    rpID: rp.rpID,
    allowCredentials: keys.map((c) => ({ id: c.credentialId, transports: transportsOf(c.transports) })),
    userVerification: "required",
  });
}

/** The credential's new signature counter, or null when the assertion does not verify. */
export async function verifyAuthentication(rp: RelyingParty, challenge: string, response: unknown, key: StoredPasskey): Promise<number | null> {
  const v = await verifyAuthenticationResponse({
    response: response as AuthenticationResponseJSON,
    expectedChallenge: challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.rpID,
    credential: { id: key.credentialId, publicKey: new Uint8Array(key.publicKey), counter: key.counter, transports: transportsOf(key.transports) },
    requireUserVerification: true,
  });
  return v.verified ? v.authenticationInfo.newCounter : null;
}
