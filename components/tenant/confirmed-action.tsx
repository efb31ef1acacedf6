"use client";
// A button that asks before it does something that cannot be taken back with one click (removing
// a class or a secondary key), then runs it as a sensitive action (re-authentication when stale).
import { useMutation } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { ApiError } from "../api";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Dialog } from "../ui/dialog";
import { ErrorState } from "../ui/state";

export function ConfirmedAction({
  label,
  title,
  confirmLabel,
  children,
  run,
  onDone,
  failureTitle,
}: {
  label: string;
  title: string;
  confirmLabel: string;
  children: ReactNode;
  run: () => Promise<unknown>;
  onDone: () => Promise<unknown>;
  failureTitle: string;
}) {
  const sensitive = useSensitiveAction();
  const [open, setOpen] = useState(false);
  const action = useMutation({
    mutationFn: () => sensitive(run),
    onSuccess: () => {
      setOpen(false);
      return onDone();
    },
  });
  const failed = action.isError && !(action.error instanceof ApiError && action.error.code === "reauth_required");
  return (
    <>
      <Button variant="secondary" size="sm" onClick={() => setOpen(true)}>
        {label}
      </Button>
      <Dialog
        open={open}
        title={title}
        onClose={() => setOpen(false)}
        actions={
          <>
            <Button variant="secondary" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button variant="danger" onClick={() => action.mutate()} loading={action.isPending}>
              {confirmLabel}
            </Button>
          </>
        }
      >
        {children}
        {failed ? <ErrorState error={action.error} title={failureTitle} /> : null}
      </Dialog>
    </>
  );
}
