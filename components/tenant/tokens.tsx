"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, tenantPath } from "../api";
import { fmtAgo, fmtTime } from "../format";
import { qk } from "../query-keys";
import type { CreatedToken, TokenList, TokenRow } from "./types";
import { EMPTY_SCOPE, scopeFields, scopeLabel, type ScopeDraft, type ScopeFields } from "./token-scope";
import { TokenScopeFields } from "./token-scope-fields";
import { PurposePolicyCard } from "../governance/purpose-policy";
import { useSensitiveAction } from "../reauth";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { ShownOnceSecret } from "../ui/copy-button";
import { Dialog } from "../ui/dialog";
import { Field } from "../ui/input";
import { EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";

export function TokensPanel({ slug }: { slug: string }) {
  const qc = useQueryClient();
  // Creating a token needs a recent sign-in (permission table: token.create is freshSignIn).
  const sensitive = useSensitiveAction();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<ScopeDraft>(EMPTY_SCOPE);
  const [scopeError, setScopeError] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<TokenRow | null>(null);
  const list = useQuery({ queryKey: qk.tokens(slug), queryFn: ({ signal }) => api<TokenList>(tenantPath(slug, "/tokens"), { signal }) });
  const create = useMutation({
    mutationFn: (body: { name: string } & ScopeFields) => sensitive(() => api<CreatedToken>(tenantPath(slug, "/tokens"), { method: "POST", body })),
    onSuccess: () => {
      setName("");
      setScope(EMPTY_SCOPE);
      return qc.invalidateQueries({ queryKey: qk.tokens(slug) });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api(tenantPath(slug, `/tokens/${id}`), { method: "DELETE" }),
    onSuccess: () => {
      setRevoking(null);
      return qc.invalidateQueries({ queryKey: qk.tokens(slug) });
    },
  });

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Service tokens</h1>
          <p className="muted">Your services call the broker's encrypt and decrypt endpoints with these. Tokens are stored hashed: each is shown once, when created.</p>
        </div>
      </div>
      <Card>
        <CardTitle>Create a token</CardTitle>
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            const checked = scopeFields(scope);
            setScopeError(checked.ok ? null : checked.error);
            if (name.trim() && checked.ok) create.mutate({ name: name.trim(), ...checked.fields });
          }}
        >
          <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. billing-service" maxLength={100} required />
          <TokenScopeFields slug={slug} value={scope} onChange={setScope} error={scopeError} />
          <div className="row">
            <Button type="submit" loading={create.isPending}>
              Create token
            </Button>
          </div>
        </form>
        {create.isError ? <ErrorState error={create.error} title="Could not create the token" /> : null}
        {create.isSuccess ? (
          <ShownOnceSecret secret={create.data.token} testId="new-token" copyLabel="Copy token">
            Copy the token for <strong>{create.data.name}</strong> ({scopeLabel(create.data.scope)}) now.
          </ShownOnceSecret>
        ) : null}
      </Card>
      <Card>
        <CardTitle>Tokens</CardTitle>
        {list.isPending ? (
          <LoadingBlock label="Loading tokens" />
        ) : list.isError ? (
          <ErrorState error={list.error} onRetry={() => void list.refetch()} />
        ) : list.data.tokens.length === 0 ? (
          <EmptyState title="No service tokens yet">
            <p>Create one above and give it to the service that encrypts your data.</p>
          </EmptyState>
        ) : (
          <Table caption="Service tokens">
            <thead>
              <tr>
                <Th>Name</Th>
                <Th>Prefix</Th>
                <Th>Scope</Th>
                <Th>Created</Th>
                <Th>Last used</Th>
                <Th>Status</Th>
                <Th>
                  <span className="sr-only">Actions</span>
                </Th>
              </tr>
            </thead>
            <tbody>
              {list.data.tokens.map((t) => (
                <tr key={t.id} data-testid={`token-row-${t.name}`}>
                  <Td>{t.name}</Td>
                  <Td>
                    <code>{t.prefix}…</code>
                  </Td>
                  <Td data-testid="token-scope">{scopeLabel(t.scope)}</Td>
                  <Td>{fmtTime(t.createdAt)}</Td>
                  <Td>{t.lastUsedAt ? fmtAgo(t.lastUsedAt) : "never"}</Td>
                  <Td>{t.revokedAt ? <Badge tone="neutral">revoked</Badge> : <Badge tone="success">active</Badge>}</Td>
                  <Td>
                    {t.revokedAt ? null : (
                      <Button variant="secondary" size="sm" onClick={() => setRevoking(t)} aria-label={`Revoke ${t.name}`}>
                        Revoke
                      </Button>
                    )}
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Card>
      {list.data ? <PurposePolicyCard slug={slug} tokens={list.data.tokens.filter((t) => !t.revokedAt)} /> : null}
      <Dialog
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? "token"}?`}
        onClose={() => setRevoking(null)}
        actions={
          <>
            <Button variant="secondary" onClick={() => setRevoking(null)}>
              Cancel
            </Button>
            <Button variant="danger" loading={revoke.isPending} onClick={() => revoking && revoke.mutate(revoking.id)}>
              Revoke token
            </Button>
          </>
        }
      >
        <p>Services using this token get HTTP 401 from now on, on every broker instance. This cannot be undone.</p>
        {revoke.isError ? <ErrorState error={revoke.error} title="Could not revoke" /> : null}
      </Dialog>
    </div>
  );
}
