"use client";
import { signIn } from "next-auth/react";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { safeCallbackPath } from "@/lib/auth/callback-url";
import { signInErrorMessage } from "@/lib/auth/sign-in-errors";
import { Button } from "../ui/button";
import { Field } from "../ui/input";
import { Alert } from "../ui/state";

export function SignInForm({ ssoName, callbackUrl, initialError, demo }: { ssoName: string | null; callbackUrl: string; initialError: string | null; demo: boolean }) {
  const router = useRouter();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(initialError);
  const [busy, setBusy] = useState(false);

  return (
    <div className="stack">
      {error ? <Alert tone="error">{error}</Alert> : null}
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          // React ignores a handler's promise; the sign-in runs on and reports through state.
          void (async () => {
            setBusy(true);
            setError(null);
            const res = await signIn("credentials", { redirect: false, email, password });
            if (!res || res.error) {
              setBusy(false);
              setError(signInErrorMessage(res?.error ?? "CredentialsSignin"));
              return;
            }
            router.replace(safeCallbackPath(callbackUrl, window.location.origin));
            router.refresh();
          })();
        }}
      >
        <Field label="Email" type="email" name="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
        <Field label="Password" type="password" name="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        <Button type="submit" loading={busy}>
          Sign in
        </Button>
      </form>
      {ssoName ? (
        <>
          <div className="divider">or</div>
          <Button variant="secondary" onClick={() => void signIn("oidc", { callbackUrl: safeCallbackPath(callbackUrl, window.location.origin) })}>
            Sign in with {ssoName}
          </Button>
        </>
      ) : null}
      {demo ? <p className="hint">Demo: the console users and their passwords are printed by <code>npm start</code>.</p> : null}
    </div>
  );
}
