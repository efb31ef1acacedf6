"use client";
// The purpose policy of one service token, on the tenant's token page: which purpose codes the
// token may give (any, or a chosen set of standard and tenant codes) and whether it must give
// one. Saving is a sensitive action (governance.policy needs a fresh sign-in).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { z } from "zod";
import type { ZPurposeCatalog, ZPurposePolicy } from "@/lib/contracts/governance";
import { api, tenantPath } from "../api";
import { qk } from "../query-keys";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { Select } from "../ui/input";
import { Alert, ErrorState, LoadingBlock } from "../ui/state";

type Catalog = z.infer<typeof ZPurposeCatalog>;
type Policy = z.infer<typeof ZPurposePolicy>;

export function PurposePolicyCard({ slug, tokens }: { slug: string; tokens: Array<{ id: string; name: string }> }) {
  const [tokenId, setTokenId] = useState(tokens[0]?.id ?? "");
  useEffect(() => {
    if (!tokens.some((t) => t.id === tokenId)) setTokenId(tokens[0]?.id ?? "");
  }, [tokens, tokenId]);
  const catalog = useQuery({ queryKey: qk.purposes(slug), queryFn: ({ signal }) => api<Catalog>(tenantPath(slug, "/purposes"), { signal }) });
  if (tokens.length === 0) return null;
  return (
    <Card data-testid="purpose-policy">
      <CardTitle>Purpose policy</CardTitle>
      <p className="muted">
        Each data request may carry a purpose code. Choose which purposes a token may give and whether it must give one; other requests are refused with HTTP 403 purpose_denied on every broker
        instance within a second, and recorded in the audit log with the purpose they gave.
      </p>
      <label className="field">
        <span>Token</span>
        <Select value={tokenId} onChange={(e) => setTokenId(e.target.value)} aria-label="Token">
          {tokens.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
            </option>
          ))}
        </Select>
      </label>
      {catalog.isPending ? (
        <LoadingBlock label="Loading purposes" />
      ) : catalog.isError ? (
        <ErrorState error={catalog.error} />
      ) : tokenId ? (
        <PolicyForm key={tokenId} slug={slug} tokenId={tokenId} catalog={catalog.data} />
      ) : null}
    </Card>
  );
}

function PolicyForm({ slug, tokenId, catalog }: { slug: string; tokenId: string; catalog: Catalog }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const path = tenantPath(slug, `/tokens/${tokenId}/purpose-policy`);
  const policy = useQuery({ queryKey: qk.purposePolicy(slug, tokenId), queryFn: ({ signal }) => api<Policy>(path, { signal }) });
  const [restricted, setRestricted] = useState(false);
  const [allowed, setAllowed] = useState<Set<string>>(new Set());
  const [required, setRequired] = useState(false);
  useEffect(() => {
    if (!policy.data) return;
    setRestricted(policy.data.allowedPurposes !== null);
    setAllowed(new Set(policy.data.allowedPurposes ?? []));
    setRequired(policy.data.requirePurpose);
  }, [policy.data]);
  const save = useMutation({
    mutationFn: () => sensitive(() => api<Policy>(path, { method: "PUT", body: { allowedPurposes: restricted ? [...allowed] : null, requirePurpose: required } })),
    onSuccess: (p) => qc.setQueryData(qk.purposePolicy(slug, tokenId), p),
  });
  if (policy.isPending) return <LoadingBlock label="Loading the policy" />;
  if (policy.isError) return <ErrorState error={policy.error} />;
  const codes = [...catalog.standard, ...catalog.custom];
  const toggle = (code: string) =>
    setAllowed((prev) => {
      const next = new Set(prev);
      if (next.has(code)) next.delete(code);
      else next.add(code);
      return next;
    });
  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate();
      }}
    >
      <label className="row">
        <input type="checkbox" checked={required} onChange={(e) => setRequired(e.target.checked)} /> Require a purpose on every request
      </label>
      <label className="row">
        <input type="checkbox" checked={restricted} onChange={(e) => setRestricted(e.target.checked)} /> Only allow these purposes
      </label>
      {restricted ? (
        <fieldset className="stack" aria-label="Allowed purposes">
          {codes.map((c) => (
            <label key={c.code} className="row" title={c.description}>
              <input type="checkbox" checked={allowed.has(c.code)} onChange={() => toggle(c.code)} aria-label={c.code} /> <code>{c.code}</code>
              <span className="muted">{c.description}</span>
            </label>
          ))}
        </fieldset>
      ) : null}
      <div className="row">
        <Button type="submit" loading={save.isPending}>
          Save policy
        </Button>
      </div>
      {save.isError ? <ErrorState error={save.error} title="Could not save the policy" /> : null}
      {save.isSuccess ? <Alert tone="success">Policy saved; it applies to this token's next request.</Alert> : null}
    </form>
  );
}
