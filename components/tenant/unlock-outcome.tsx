"use client";
// What an unlock (tenant or class) came to: held for approval, unlocked, or refused with the
// validation steps that failed.
import { Alert, ErrorState } from "../ui/state";
import { notReauth, type LockSwitchState } from "./use-lock-switch";
import { ValidationSteps } from "./validation-steps";

export function UnlockOutcome({ slug, state, showSuccess, successText, errorTitle }: { slug: string; state: LockSwitchState; showSuccess: boolean; successText: string; errorTitle: string }) {
  const { unlock, unlockSteps } = state;
  return (
    <>
      {unlock.data && "approval" in unlock.data ? (
        <Alert tone="info">
          Unlock requested: it runs when {unlock.data.approval.requiredApprovals} other admin(s) approve it on the <a href={`/t/${slug}/approvals`}>Approvals</a> page.
        </Alert>
      ) : unlock.isSuccess && showSuccess ? (
        <Alert tone="success">{successText}</Alert>
      ) : null}
      {unlock.isError && notReauth(unlock.error) ? <ErrorState error={unlock.error} title={errorTitle} /> : null}
      {unlockSteps ? <ValidationSteps steps={unlockSteps} /> : null}
    </>
  );
}
