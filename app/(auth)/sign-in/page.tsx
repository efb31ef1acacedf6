import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { SignInForm } from "@/components/auth/sign-in-form";
import { getConsoleUser } from "@/lib/auth/config";
import { homePath } from "@/lib/auth/roles";
import { serverBroker } from "@/lib/auth/server-broker";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

const ERRORS: Record<string, string> = {
  CredentialsSignin: "That email and password do not match an active console user.",
  AccessDenied: "Your SSO account is not a console user here. Ask your administrator to add your email.",
  SessionRequired: "Sign in to continue.",
};

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ error?: string; callbackUrl?: string }> }) {
  const user = await getConsoleUser();
  if (user) redirect(homePath(user));
  const { error, callbackUrl } = await searchParams;
  const config = serverBroker().config;
  const sso = config.BROKER_OIDC_ISSUER ? (config.BROKER_OIDC_NAME ?? "SSO") : null;
  // Only same-site paths are followed after sign-in.
  const next = callbackUrl && callbackUrl.startsWith("/") && !callbackUrl.startsWith("//") ? callbackUrl : "/";
  return (
    <main id="main" className="auth-wrap">
      <div className="card auth-card">
        <h1>cmek-broker console</h1>
        <p className="muted">Sign in to manage your encryption keys.</p>
        <SignInForm ssoName={sso} callbackUrl={next} initialError={error ? (ERRORS[error] ?? "Sign-in failed. Try again.") : null} demo={config.demo} />
      </div>
    </main>
  );
}
