"use client";
// The kill switch of one data class: POST /lock and /unlock with `dataClass` lock or unlock that
// class alone; the tenant's own kill switch (kill-switch.tsx) locks every class at once.
import { useQueryClient } from "@tanstack/react-query";
import { Button } from "../ui/button";
import { refreshClasses } from "./class-refresh";
import { LockDialog } from "./lock-dialog";
import type { DataClassInfo } from "./types";
import { UnlockOutcome } from "./unlock-outcome";
import { useLockSwitch } from "./use-lock-switch";

export function ClassLockSwitch({ slug, dataClass }: { slug: string; dataClass: DataClassInfo }) {
  const qc = useQueryClient();
  const name = dataClass.name;
  const state = useLockSwitch({ slug, dataClass: name, refresh: () => refreshClasses(qc, slug) });
  const { unlock, setConfirming } = state;
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
        <UnlockOutcome slug={slug} state={state} showSuccess={!locked} successText="Unlocked: the class's key was re-validated." errorTitle={`Unlock of ${name} failed: the key did not validate`} />
      </div>
      <LockDialog
        state={state}
        title={`Lock class ${name} now?`}
        formId={`lock-class-${name}`}
        confirmLabel={`Lock ${name}`}
        placeholder="e.g. suspected misuse"
        defaultReason={`class ${name} locked from the console`}
        errorTitle={`Could not lock ${name}`}
      >
        <p>
          <strong>Every request for data of class {name} fails (HTTP 423)</strong>, on every broker instance, and its cached data keys are wiped. The other classes keep serving. It
          stays locked until an admin unlocks it.
        </p>
      </LockDialog>
    </div>
  );
}
