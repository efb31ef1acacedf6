// Cookie settings that next-auth (in Next.js) and the API's session resolver (in Fastify) must agree on.
export function isSecureConsole(env: { NEXTAUTH_URL?: string }): boolean {
  return (env.NEXTAUTH_URL ?? "").startsWith("https://");
}

/** The session cookie's name, as next-auth derives it. */
export function sessionCookieName(secure: boolean): string {
  return `${secure ? "__Secure-" : ""}next-auth.session-token`;
}

/**
 * The client's address as the console's HTTP server saw it (the socket's peer), for the sign-in
 * throttle. The server overwrites whatever a client sends under this name.
 */
export const CLIENT_ADDRESS_HEADER = "x-cmek-client-address";
