"use client";
// Crypto-shredding from the console: a tenant admin (fresh sign-in) destroys every data key of
// the tenant after typing its slug. The dialog says plainly what cannot be undone.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ApiError, tenantPath } from "../api";
import { qk } from "../query-keys";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { Dialog } from "../ui/dialog";
import { Field } from "../ui/input";
import { ErrorState } from "../ui/state";
import type { ShredResult, TenantInfo } from "./types";

export function ShredTenant({ slug, tenant }: { slug: string; tenant: TenantInfo }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState("");
  const shred = useMutation({
    mutationFn: () => sensitive(() => api<ShredResult>(tenantPath(slug, "/shred"), { method: "POST", body: { confirm: typed } })),
    onSuccess: () => {
      setOpen(false);
      setTyped("");
      return qc.invalidateQueries({ queryKey: qk.health(slug) });
    },
  });
  const matches = typed === tenant.slug;

  return (
    <Card aria-labelledby="shred-title" data-testid="shred-card">
      <CardTitle>
        <span id="shred-title">Offboarding: destroy all data keys</span>
      </CardTitle>
      <p>
        Crypto-shredding deletes every data key the broker holds for this tenant. Everything ever encrypted for it becomes unreadable for good, on every broker instance, and a
        signed certificate of destruction is written to the audit log.
      </p>
      <Button variant="danger" onClick={() => setOpen(true)}>
        Destroy all data keys…
      </Button>
      <Dialog
        open={open}
        title={`Destroy every data key of ${tenant.name}?`}
        onClose={() => setOpen(false)}
        actions={
          <>
            <Button variant="secondary" onClick={() => setOpen(false)}>
              Cancel
            </Button>
            <Button variant="danger" type="submit" form="shred-form" disabled={!matches} loading={shred.isPending}>
              Destroy data keys permanently
            </Button>
          </>
        }
      >
        <p>
          <strong>This cannot be undone.</strong> No one, neither you nor the vendor, can decrypt this tenant&apos;s data afterwards, even with your KMS key: services get HTTP 410
          from then on, and the tenant cannot be unlocked or given a new key.
        </p>
        <form
          id="shred-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (matches) shred.mutate();
          }}
        >
          <Field label={`Type the tenant's slug (${tenant.slug}) to confirm`} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />
        </form>
        {shred.isError && !(shred.error instanceof ApiError && shred.error.code === "reauth_required") ? <ErrorState error={shred.error} title="Could not destroy the data keys" /> : null}
      </Dialog>
    </Card>
  );
}
