"use client";
// The signed-in user's step-up factors: passkeys (WebAuthn, through @simplewebauthn/browser) and
// TOTP authenticator apps. Enrolling or removing one is itself sensitive (a fresh sign-in, or a
// step-up once the user has a factor).
import { startRegistration } from "@simplewebauthn/browser";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { z } from "zod";
import type { ZFactorList, ZTotpEnrollment } from "@/lib/contracts/quorum";
import { api } from "../api";
import { fmtTime } from "../format";
import { useSensitiveAction } from "../reauth";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { ShownOnceSecret } from "../ui/copy-button";
import { Field } from "../ui/input";
import { Alert, EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";

type FactorList = z.infer<typeof ZFactorList>;
type TotpEnrollment = z.infer<typeof ZTotpEnrollment>;
const KEY = ["me", "factors"] as const;

export function FactorsPanel() {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const [totp, setTotp] = useState<TotpEnrollment | null>(null);
  const [code, setCode] = useState("");
  const list = useQuery({ queryKey: KEY, queryFn: ({ signal }) => api<FactorList>("/api/v1/me/factors", { signal }) });
  const refresh = () => qc.invalidateQueries({ queryKey: KEY });

  const addPasskey = useMutation({
    mutationFn: () =>
      sensitive(async () => {
        const options = await api<Record<string, unknown>>("/api/v1/me/factors/passkey/options", { method: "POST" });
        const credential = await startRegistration({ optionsJSON: options as never });
        return api("/api/v1/me/factors/passkey", { method: "POST", body: { name: "Passkey", credential } });
      }),
    onSuccess: refresh,
  });
  const addTotp = useMutation({
    mutationFn: () => sensitive(() => api<TotpEnrollment>("/api/v1/me/factors/totp", { method: "POST", body: { name: "Authenticator app" } })),
    onSuccess: (r) => {
      setTotp(r);
      setCode("");
    },
  });
  const verify = useMutation({
    mutationFn: () => api(`/api/v1/me/factors/${totp!.factor.id}/verify`, { method: "POST", body: { code } }),
    onSuccess: () => {
      setTotp(null);
      return refresh();
    },
  });
  const remove = useMutation({ mutationFn: (id: string) => sensitive(() => api(`/api/v1/me/factors/${id}`, { method: "DELETE" })), onSuccess: refresh });

  return (
    <Card aria-labelledby="factors-title">
      <CardTitle>
        <span id="factors-title">Passkeys and authenticator apps</span>
      </CardTitle>
      <p className="muted">Once you have one, sensitive actions (unlock, key changes, approvals) ask for it instead of your password.</p>
      {list.data?.stepUpRequired ? <Alert tone="info">Your tenant requires a passkey or authenticator app for its admins.</Alert> : null}
      {list.isPending ? <LoadingBlock /> : list.isError ? <ErrorState error={list.error} /> : null}
      {list.data && list.data.factors.length === 0 ? <EmptyState title="No factors yet" /> : null}
      {list.data && list.data.factors.length > 0 ? (
        <Table caption="Your factors">
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>Kind</Th>
              <Th>Added</Th>
              <Th>Last used</Th>
              <Th>Actions</Th>
            </tr>
          </thead>
          <tbody>
            {list.data.factors.map((f) => (
              <tr key={f.id} data-testid={`factor-${f.kind}`}>
                <Td>{f.name}</Td>
                <Td>
                  <Badge tone={f.verified ? "success" : "warning"}>{f.kind === "passkey" ? "Passkey" : f.verified ? "Authenticator app" : "Not confirmed"}</Badge>
                </Td>
                <Td>{fmtTime(f.createdAt)}</Td>
                <Td>{f.lastUsedAt ? fmtTime(f.lastUsedAt) : "never"}</Td>
                <Td>
                  <Button variant="ghost" size="sm" onClick={() => remove.mutate(f.id)}>
                    Remove
                  </Button>
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      ) : null}
      <div className="row" style={{ gap: "0.5rem", marginTop: "0.75rem" }}>
        <Button onClick={() => addPasskey.mutate()} loading={addPasskey.isPending}>
          Add a passkey
        </Button>
        <Button variant="secondary" onClick={() => addTotp.mutate()} loading={addTotp.isPending}>
          Add an authenticator app
        </Button>
      </div>
      {addPasskey.isError ? <ErrorState error={addPasskey.error} title="The passkey was not added" /> : null}
      {addPasskey.isSuccess ? <Alert tone="success">Passkey added.</Alert> : null}
      {totp ? (
        <div className="stack" style={{ marginTop: "0.75rem" }}>
          <ShownOnceSecret secret={totp.secret} testId="totp-secret" copyLabel="Copy the setup key">
            Add this key to your authenticator app (shown once), then enter the code it shows.
          </ShownOnceSecret>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              verify.mutate();
            }}
          >
            <Field
              label="Code from the app"
              inputMode="numeric"
              pattern="\d{6}"
              value={code}
              onChange={(e) => setCode(e.target.value.trim())}
              error={verify.isError ? verify.error.message : null}
              required
            />
            <Button type="submit" loading={verify.isPending}>
              Confirm
            </Button>
          </form>
        </div>
      ) : null}
    </Card>
  );
}
