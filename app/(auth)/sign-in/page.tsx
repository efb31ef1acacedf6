import type { Metadata } from "next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { SignInForm } from "@/components/auth/sign-in-form";
import { safeCallbackPath } from "@/lib/auth/callback-url";
import { getConsoleUser } from "@/lib/auth/config";
import { homePath } from "@/lib/auth/roles";
import { serverBroker } from "@/lib/auth/server-broker";
import { signInErrorMessage } from "@/lib/auth/sign-in-errors";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ error?: string; callbackUrl?: string }> }) {
  const user = await getConsoleUser();
  if (user) redirect(homePath(user));
  const { error, callbackUrl } = await searchParams;
  const config = serverBroker().config;
  const sso = config.BROKER_OIDC_ISSUER ? (config.BROKER_OIDC_NAME ?? "SSO") : null;
  // Only same-origin targets are followed after sign-in (the form checks again in the browser).
  const origin = process.env.NEXTAUTH_URL ? new URL(process.env.NEXTAUTH_URL).origin : `http://${(await headers()).get("host") ?? "localhost"}`;
  const next = safeCallbackPath(callbackUrl, origin);
  return (
    <main id="main" className="auth-wrap">
      <div className="card auth-card">
        <h1>cmek-broker console</h1>
        <p className="muted">Sign in to manage your encryption keys.</p>
        <SignInForm ssoName={sso} callbackUrl={next} initialError={signInErrorMessage(error)} demo={config.demo} />
      </div>
    </main>
  );
}
