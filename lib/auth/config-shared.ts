// Cookie settings that next-auth (in Next.js) and the API's session resolver (in Fastify) must agree on.
export function isSecureConsole(env: { NEXTAUTH_URL?: string }): boolean {
  return (env.NEXTAUTH_URL ?? "").startsWith("https://");
}

/** The session cookie's name, as next-auth derives it. */
export function sessionCookieName(secure: boolean): string {
  return `${secure ? "__Secure-" : ""}next-auth.session-token`;
}
