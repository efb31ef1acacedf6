"use client";
import { useQueryClient } from "@tanstack/react-query";
import { qk } from "../query-keys";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { Alert } from "../ui/state";
import type { TenantInfo } from "./types";
import { RevocationDrill } from "./drill";
import { LockDialog } from "./lock-dialog";
import { UnlockOutcome } from "./unlock-outcome";
import { useLockSwitch } from "./use-lock-switch";

export function KillSwitch({ slug, tenant }: { slug: string; tenant: TenantInfo }) {
  const qc = useQueryClient();
  const state = useLockSwitch({ slug, refresh: () => qc.invalidateQueries({ queryKey: qk.health(slug) }) });
  const { lock, unlock, setConfirming } = state;
  const locked = tenant.state === "locked";

  return (
    <Card aria-labelledby="kill-switch-title">
      <CardTitle>
        <span id="kill-switch-title">Kill switch</span>
      </CardTitle>
      {locked ? (
        <>
          <p>Unlocking first proves the key works again with a real wrap and unwrap at your KMS; only then does the broker serve data again.</p>
          <Button onClick={() => unlock.mutate()} loading={unlock.isPending}>
            Unlock
          </Button>
        </>
      ) : (
        <>
          <p>Locking stops every encryption and decryption for this tenant immediately, on every broker instance, until you unlock it.</p>
          <Button variant="danger" onClick={() => setConfirming(true)}>
            Lock now
          </Button>
        </>
      )}
      {/* Outside the locked/active switch: the drill itself locks for a moment, and its result must survive that. */}
      <RevocationDrill slug={slug} locked={locked} />
      <div className="stack" style={{ marginTop: "0.75rem" }}>
        <UnlockOutcome slug={slug} state={state} showSuccess successText="Unlocked: the key was re-validated and the tenant is active again." errorTitle="Unlock failed: the key did not validate" />
        {lock.isSuccess && locked ? <Alert tone="info">Locked. Services using this tenant now get HTTP 423.</Alert> : null}
      </div>
      <LockDialog
        state={state}
        title={`Lock ${tenant.name} now?`}
        formId="lock-form"
        confirmLabel="Lock and stop all decryption"
        placeholder="e.g. suspected credential leak"
        defaultReason="locked from the console"
        errorTitle="Could not lock"
      >
        <p>
          <strong>Every service using this tenant will immediately fail to encrypt or decrypt (HTTP 423)</strong>, on every broker instance, and cached data keys are wiped. It stays
          locked until an admin unlocks it.
        </p>
      </LockDialog>
    </Card>
  );
}
