"use client";
// The confirm dialog of a kill switch (tenant or class): what locking does, a reason for the
// audit log, Cancel and the confirm button; the lock runs only from here.
import type { ReactNode } from "react";
import { Button } from "../ui/button";
import { Dialog } from "../ui/dialog";
import { Field } from "../ui/input";
import { ErrorState } from "../ui/state";
import { notReauth, type LockSwitchState } from "./use-lock-switch";

export function LockDialog({
  state,
  title,
  formId,
  confirmLabel,
  placeholder,
  defaultReason,
  errorTitle,
  children,
}: {
  state: LockSwitchState;
  title: string;
  formId: string;
  confirmLabel: string;
  placeholder: string;
  /** The reason recorded when the field is left empty. */
  defaultReason: string;
  errorTitle: string;
  /** What locking does, in the dialog's body. */
  children: ReactNode;
}) {
  const { confirming, setConfirming, reason, setReason, lock } = state;
  return (
    <Dialog
      open={confirming}
      title={title}
      onClose={() => setConfirming(false)}
      actions={
        <>
          <Button variant="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </Button>
          <Button variant="danger" type="submit" form={formId} loading={lock.isPending}>
            {confirmLabel}
          </Button>
        </>
      }
    >
      {children}
      <form
        id={formId}
        onSubmit={(e) => {
          e.preventDefault();
          lock.mutate(reason.trim() || defaultReason);
        }}
      >
        <Field label="Reason (recorded in the audit log)" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder={placeholder} />
      </form>
      {lock.isError && notReauth(lock.error) ? <ErrorState error={lock.error} title={errorTitle} /> : null}
    </Dialog>
  );
}
