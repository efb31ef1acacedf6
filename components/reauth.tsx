"use client";
// Actions flagged freshSignIn in lib/auth/permissions.ts need a login within the last 5 minutes. When the API answers
// reauth_required, this asks for the password again (a fresh credentials sign-in renews the
// session's authTime) and then retries the action once.
import { signIn } from "next-auth/react";
import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from "react";
import type { z } from "zod";
import type { ZMe } from "@/lib/http/routes/console";
import { signInErrorMessage } from "@/lib/auth/sign-in-errors";
import { ApiError } from "./api";
import { StepUpDialog } from "./account/step-up-dialog";
import { Button } from "./ui/button";
import { Dialog } from "./ui/dialog";
import { Field } from "./ui/input";

type Sensitive = <T>(action: () => Promise<T>) => Promise<T>;

const ReauthContext = createContext<Sensitive>((a) => a());

export function useSensitiveAction(): Sensitive {
  return useContext(ReauthContext);
}

export function ReauthProvider({ children, hasPassword }: { children: ReactNode; hasPassword: boolean }) {
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const pending = useRef<{ resolve: () => void; reject: (e: unknown) => void } | null>(null);
  // A user with a passkey or TOTP factor steps up instead (step_up_required; enrolled false: the
  // tenant requires a factor the user has not enrolled yet).
  const [stepUp, setStepUp] = useState<{ enrolled: boolean } | null>(null);

  const ask = useCallback(
    (original: ApiError) =>
      new Promise<void>((resolve, reject) => {
        pending.current = { resolve, reject: () => reject(original) };
        setError(null);
        setPassword("");
        setOpen(true);
      }),
    [],
  );

  const run: Sensitive = useCallback(
    async (action) => {
      try {
        return await action();
      } catch (e) {
        if (e instanceof ApiError && e.code === "step_up_required") {
          await new Promise<void>((resolve, reject) => {
            pending.current = { resolve, reject: () => reject(e) };
            setStepUp({ enrolled: e.body.enrolled !== false });
          });
          return action();
        }
        if (!(e instanceof ApiError && e.code === "reauth_required")) throw e;
        await ask(e);
        return action();
      }
    },
    [ask],
  );

  const close = () => {
    setOpen(false);
    pending.current?.reject(null);
    pending.current = null;
  };

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const me = (await fetch("/api/v1/me", { credentials: "same-origin" }).then((r) => r.json())) as Partial<z.infer<typeof ZMe>>;
      const res = await signIn("credentials", { redirect: false, email: me.email ?? "", password });
      if (!res || res.error) {
        // While the sign-in throttle backs off, say so rather than blaming the password.
        setError(res?.error?.startsWith("TooManyAttempts:") ? signInErrorMessage(res.error) : "That password is not correct.");
        return;
      }
      setOpen(false);
      pending.current?.resolve();
      pending.current = null;
    } finally {
      setBusy(false);
    }
  };

  return (
    <ReauthContext.Provider value={run}>
      {children}
      <StepUpDialog
        open={stepUp !== null}
        enrolled={stepUp?.enrolled ?? true}
        onDone={() => {
          setStepUp(null);
          pending.current?.resolve();
          pending.current = null;
        }}
        onClose={() => {
          setStepUp(null);
          pending.current?.reject(null);
          pending.current = null;
        }}
      />
      <Dialog
        open={open}
        title="Confirm it's you"
        onClose={close}
        actions={
          <>
            <Button variant="secondary" onClick={close}>
              Cancel
            </Button>
            {hasPassword ? (
              <Button type="submit" form="reauth-form" loading={busy}>
                Confirm
              </Button>
            ) : (
              <Button onClick={() => void signIn("oidc", { callbackUrl: window.location.href }, { prompt: "login", max_age: "0" })}>Sign in again with SSO</Button>
            )}
          </>
        }
      >
        <p className="muted">This action changes how your data can be decrypted. Your last sign-in was more than 5 minutes ago, so confirm your password first.</p>
        {hasPassword ? (
          <form
            id="reauth-form"
            onSubmit={(e) => {
              e.preventDefault();
              void confirm();
            }}
          >
            <Field label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} error={error} required autoFocus />
          </form>
        ) : null}
      </Dialog>
    </ReauthContext.Provider>
  );
}
