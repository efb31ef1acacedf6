"use client";
// The step-up a user with a factor gives instead of a password (issue 13): a passkey assertion
// (navigator.credentials.get through @simplewebauthn/browser) or a code from the authenticator app.
import { startAuthentication } from "@simplewebauthn/browser";
import { useEffect, useState } from "react";
import type { z } from "zod";
import type { ZStepUpChallenge } from "@/lib/contracts/quorum";
import { api, ApiError } from "../api";
import { Button } from "../ui/button";
import { Dialog } from "../ui/dialog";
import { Field } from "../ui/input";

type Challenge = z.infer<typeof ZStepUpChallenge>;

export function StepUpDialog({ open, enrolled, onDone, onClose }: { open: boolean; enrolled: boolean; onDone: () => void; onClose: () => void }) {
  const [challenge, setChallenge] = useState<Challenge | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!open || !enrolled) return;
    setCode("");
    setError(null);
    api<Challenge>("/api/v1/me/step-up/challenge", { method: "POST" }).then(setChallenge, (e: unknown) => setError((e as Error).message));
  }, [open, enrolled]);

  const submit = async (proof: unknown) => {
    setBusy(true);
    setError(null);
    try {
      await api("/api/v1/me/step-up", { method: "POST", body: proof });
      onDone();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : "The step-up failed.");
    } finally {
      setBusy(false);
    }
  };

  const usePasskey = async () => {
    if (!challenge?.passkey) return;
    try {
      const credential = await startAuthentication({ optionsJSON: challenge.passkey as never });
      await submit({ kind: "passkey", credential });
    } catch (e) {
      setError(`The passkey was not used: ${(e as Error).message}`);
      // A challenge is consumed by every attempt: fetch a new one for the next try.
      setChallenge(await api<Challenge>("/api/v1/me/step-up/challenge", { method: "POST" }));
    }
  };

  return (
    <Dialog
      open={open}
      title="Confirm with your passkey or authenticator"
      onClose={onClose}
      actions={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          {enrolled && challenge?.passkey ? (
            <Button onClick={() => void usePasskey()} loading={busy}>
              Use passkey
            </Button>
          ) : null}
          {enrolled && challenge?.totp ? (
            <Button type="submit" form="step-up-form" loading={busy}>
              Confirm code
            </Button>
          ) : null}
        </>
      }
    >
      {enrolled ? (
        <>
          <p className="muted">This action changes how your data can be protected. Confirm it is you with a passkey or a code from your authenticator app.</p>
          {challenge?.totp ? (
            <form
              id="step-up-form"
              onSubmit={(e) => {
                e.preventDefault();
                void submit({ kind: "totp", code });
              }}
            >
              <Field label="Authenticator code" inputMode="numeric" autoComplete="one-time-code" pattern="\d{6}" value={code} onChange={(e) => setCode(e.target.value.trim())} error={error} required />
            </form>
          ) : error ? (
            <p role="alert">{error}</p>
          ) : null}
        </>
      ) : (
        <p>
          Your tenant requires a passkey or authenticator app for this. <a href="/account/security">Enroll one on the security page</a>, then try again.
        </p>
      )}
    </Dialog>
  );
}
