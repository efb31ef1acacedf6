// What the sign-in page and form say for next-auth's error codes (the `error` query parameter
// after a redirect, or `signIn()`'s result with redirect: false). Shared by server and client.

/** Thrown by the credentials provider while a throttle backs off; next-auth passes the message on as the error code. */
export function tooManyAttemptsCode(retryAfterS: number): string {
  return `TooManyAttempts:${Math.max(1, Math.ceil(retryAfterS))}`;
}

/** The signIn callback's answer to an SSO account whose email the identity provider has not verified. */
export const EMAIL_UNVERIFIED = "EmailUnverified";

const MESSAGES: Record<string, string> = {
  CredentialsSignin: "That email and password do not match an active console user.",
  AccessDenied: "Your SSO account is not a console user here. Ask your administrator to add your email.",
  [EMAIL_UNVERIFIED]: "Your identity provider has not confirmed that this email address is yours (email_verified is not true), so it cannot be matched to a console user. Ask your identity provider's administrator to verify it.",
  SessionRequired: "Sign in to continue.",
};

export function signInErrorMessage(code: string | null | undefined): string | null {
  if (!code) return null;
  const wait = /^TooManyAttempts:(\d{1,6})$/.exec(code);
  if (wait) {
    const s = Number(wait[1]);
    const when = s >= 120 ? `${Math.ceil(s / 60)} minutes` : `${s} second${s === 1 ? "" : "s"}`;
    return `Too many failed sign-ins for this email from your address. Try again in ${when}.`;
  }
  return MESSAGES[code] ?? "Sign-in failed. Try again.";
}
