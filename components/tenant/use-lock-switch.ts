"use client";
// The state behind a kill switch, the tenant's (kill-switch.tsx) or one class's
// (class-lock-switch.tsx): the confirm dialog's open state and reason, and the lock and unlock
// calls (POST /lock and /unlock, with `dataClass` for one class) as sensitive actions.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, tenantPath } from "../api";
import { useSensitiveAction } from "../reauth";
import type { ValidationStep } from "./types";

/** POST /unlock: the key's re-validation, or 202 while the tenant's quorum holds the unlock for approval. */
export type UnlockAnswer = { validation?: { steps: ValidationStep[] } } | { approval: { id: string; requiredApprovals: number } };

/** False for the error that only asks for a fresh sign-in (the re-auth prompt says so itself). */
export const notReauth = (e: unknown) => !(e instanceof ApiError && e.code === "reauth_required");

export function useLockSwitch({ slug, dataClass, refresh }: { slug: string; dataClass?: string; refresh: () => Promise<unknown> }) {
  const sensitive = useSensitiveAction();
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [unlockSteps, setUnlockSteps] = useState<ValidationStep[] | null>(null);

  const lock = useMutation({
    mutationFn: (r: string) => sensitive(() => api(tenantPath(slug, "/lock"), { method: "POST", body: dataClass === undefined ? { reason: r } : { reason: r, dataClass } })),
    onSuccess: () => {
      setConfirming(false);
      setReason("");
      setUnlockSteps(null);
      return refresh();
    },
  });
  const unlock = useMutation({
    mutationFn: () => sensitive(() => api<UnlockAnswer>(tenantPath(slug, "/unlock"), dataClass === undefined ? { method: "POST" } : { method: "POST", body: { dataClass } })),
    onSuccess: (r) => {
      // 202 (approval): nothing was validated yet; the Approvals page runs the unlock later.
      setUnlockSteps("validation" in r && r.validation ? r.validation.steps : null);
      return refresh();
    },
    onError: (e) => setUnlockSteps(e instanceof ApiError && Array.isArray(e.body.steps) ? (e.body.steps as ValidationStep[]) : null),
  });
  return { confirming, setConfirming, reason, setReason, unlockSteps, lock, unlock };
}

export type LockSwitchState = ReturnType<typeof useLockSwitch>;
