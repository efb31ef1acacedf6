"use client";
// The kill switch of one data class: POST /lock and /unlock with `dataClass` lock or unlock that
// class alone; the tenant's own kill switch (kill-switch.tsx) locks every class at once.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, tenantPath } from "../api";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Dialog } from "../ui/dialog";
import { Field } from "../ui/input";
import { Alert, ErrorState } from "../ui/state";
import { refreshClasses } from "./class-refresh";
import type { DataClassInfo, ValidationStep } from "./types";
import { ValidationSteps } from "./validation-steps";

type UnlockAnswer = { validation?: { steps: ValidationStep[] } } | { approval: { id: string; requiredApprovals: number } };

const notReauth = (e: unknown) => !(e instanceof ApiError && e.code === "reauth_required");

export function ClassLockSwitch({ slug, dataClass }: { slug: string; dataClass: DataClassInfo }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [unlockSteps, setUnlockSteps] = useState<ValidationStep[] | null>(null);
  const name = dataClass.name;
  const refresh = () => refreshClasses(qc, slug);

  const lock = useMutation({
    mutationFn: (r: string) => sensitive(() => api(tenantPath(slug, "/lock"), { method: "POST", body: { reason: r, dataClass: name } })),
    onSuccess: () => {
      setConfirming(false);
      setReason("");
      setUnlockSteps(null);
      return refresh();
    },
  });
  const unlock = useMutation({
    mutationFn: () => sensitive(() => api<UnlockAnswer>(tenantPath(slug, "/unlock"), { method: "POST", body: { dataClass: name } })),
    onSuccess: (r) => {
      // 202: the tenant's quorum holds the unlock until other admins approve (Approvals page).
      setUnlockSteps("validation" in r && r.validation ? r.validation.steps : null);
      return refresh();
    },
    onError: (e) => setUnlockSteps(e instanceof ApiError && Array.isArray(e.body.steps) ? (e.body.steps as ValidationStep[]) : null),
  });
  const locked = dataClass.state === "locked";

  return (
    <div className="stack" style={{ gap: "0.5rem" }}>
      <div>
        {locked ? (
          <Button size="sm" onClick={() => unlock.mutate()} loading={unlock.isPending}>
            Unlock class {name}
          </Button>
        ) : (
          <Button size="sm" variant="danger" onClick={() => setConfirming(true)} disabled={!dataClass.key}>
            Lock class {name}
          </Button>
        )}
      </div>
      <div aria-live="polite" className="stack" style={{ gap: "0.5rem" }}>
        {unlock.data && "approval" in unlock.data ? (
          <Alert tone="info">
            Unlock requested: it runs when {unlock.data.approval.requiredApprovals} other admin(s) approve it on the <a href={`/t/${slug}/approvals`}>Approvals</a> page.
          </Alert>
        ) : unlock.isSuccess && !locked ? (
          <Alert tone="success">Unlocked: the class&apos;s key was re-validated.</Alert>
        ) : null}
        {unlock.isError && notReauth(unlock.error) ? <ErrorState error={unlock.error} title={`Unlock of ${name} failed: the key did not validate`} /> : null}
        {unlockSteps ? <ValidationSteps steps={unlockSteps} /> : null}
      </div>
      <Dialog
        open={confirming}
        title={`Lock class ${name} now?`}
        onClose={() => setConfirming(false)}
        actions={
          <>
            <Button variant="secondary" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button variant="danger" type="submit" form={`lock-class-${name}`} loading={lock.isPending}>
              Lock {name}
            </Button>
          </>
        }
      >
        <p>
          <strong>Every request for data of class {name} fails (HTTP 423)</strong>, on every broker instance, and its cached data keys are wiped. The other classes keep serving. It
          stays locked until an admin unlocks it.
        </p>
        <form
          id={`lock-class-${name}`}
          onSubmit={(e) => {
            e.preventDefault();
            lock.mutate(reason.trim() || `class ${name} locked from the console`);
          }}
        >
          <Field label="Reason (recorded in the audit log)" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="e.g. suspected misuse" />
        </form>
        {lock.isError && notReauth(lock.error) ? <ErrorState error={lock.error} title={`Could not lock ${name}`} /> : null}
      </Dialog>
    </div>
  );
}
