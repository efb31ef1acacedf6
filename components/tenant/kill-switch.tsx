"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, tenantPath } from "../api";
import { qk } from "../query-keys";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { Dialog } from "../ui/dialog";
import { Field } from "../ui/input";
import { Alert, ErrorState } from "../ui/state";
import type { TenantInfo, UnlockResult, ValidationStep } from "./types";
import { RevocationDrill } from "./drill";
import { ValidationSteps } from "./validation-steps";

export function KillSwitch({ slug, tenant }: { slug: string; tenant: TenantInfo }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [unlockSteps, setUnlockSteps] = useState<ValidationStep[] | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: qk.health(slug) });

  const lock = useMutation({
    mutationFn: (r: string) => sensitive(() => api(tenantPath(slug, "/lock"), { method: "POST", body: { reason: r } })),
    onSuccess: () => {
      setConfirming(false);
      setReason("");
      setUnlockSteps(null);
      return refresh();
    },
  });
  const unlock = useMutation({
    mutationFn: () => sensitive(() => api<UnlockResult | { approval: { id: string; requiredApprovals: number } }>(tenantPath(slug, "/unlock"), { method: "POST" })),
    onSuccess: (r) => {
      // 202: the tenant's quorum holds the unlock until other admins approve (Approvals page).
      if ("approval" in r) return setUnlockSteps(null);
      setUnlockSteps(r.validation.steps);
      return refresh();
    },
    onError: (e) => {
      setUnlockSteps(e instanceof ApiError && Array.isArray(e.body.steps) ? (e.body.steps as ValidationStep[]) : null);
    },
  });
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
        {unlock.data && "approval" in unlock.data ? (
          <Alert tone="info">
            Unlock requested: it runs when {unlock.data.approval.requiredApprovals} other admin(s) approve it on the <a href={`/t/${slug}/approvals`}>Approvals</a> page.
          </Alert>
        ) : unlock.isSuccess ? (
          <Alert tone="success">Unlocked: the key was re-validated and the tenant is active again.</Alert>
        ) : null}
        {unlock.isError && !(unlock.error instanceof ApiError && unlock.error.code === "reauth_required") ? (
          <ErrorState error={unlock.error} title="Unlock failed: the key did not validate" />
        ) : null}
        {unlockSteps ? <ValidationSteps steps={unlockSteps} /> : null}
        {lock.isSuccess && locked ? <Alert tone="info">Locked. Services using this tenant now get HTTP 423.</Alert> : null}
      </div>
      <Dialog
        open={confirming}
        title={`Lock ${tenant.name} now?`}
        onClose={() => setConfirming(false)}
        actions={
          <>
            <Button variant="secondary" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button variant="danger" type="submit" form="lock-form" loading={lock.isPending}>
              Lock and stop all decryption
            </Button>
          </>
        }
      >
        <p>
          <strong>Every service using this tenant will immediately fail to encrypt or decrypt (HTTP 423)</strong>, on every broker instance, and cached data keys are wiped. It stays
          locked until an admin unlocks it.
        </p>
        <form
          id="lock-form"
          onSubmit={(e) => {
            e.preventDefault();
            lock.mutate(reason.trim() || "locked from the console");
          }}
        >
          <Field label="Reason (recorded in the audit log)" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} placeholder="e.g. suspected credential leak" />
        </form>
        {lock.isError && !(lock.error instanceof ApiError && lock.error.code === "reauth_required") ? <ErrorState error={lock.error} title="Could not lock" /> : null}
      </Dialog>
    </Card>
  );
}
