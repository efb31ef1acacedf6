"use client";
// Connect-key wizard: provider → key reference (checked live with the provider's own format
// rules) → the exact grant to give the vendor → a real wrap + unwrap round trip. For a data class
// (issue 12) the same steps connect the class's primary or secondary key (connect-target.tsx).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useState } from "react";
import { api, ApiError, tenantPath } from "../api";
import { PROVIDER_LABEL } from "../format";
import { qk } from "../query-keys";
import { useSensitiveAction } from "../reauth";
import { Button } from "../ui/button";
import { Card } from "../ui/card";
import { CodeBlock } from "../ui/copy-button";
import { Field } from "../ui/input";
import { Alert, ErrorState, LoadingBlock } from "../ui/state";
import { grantsFor, KEY_LABEL, KEY_PLACEHOLDER, type ConnectInfo, type Provider } from "./grant-text";
import { ConnectTargetPicker, type ConnectTarget } from "./connect-target";
import { useDataClasses } from "./data-classes";
import type { ConnectClassKeyResult, ConnectKeyResult, KeyRefCheck, ValidationStep } from "./types";
import { ValidationSteps } from "./validation-steps";

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** Where the wizard connects: the default primary stays today's PUT /key; classes and secondaries go under /classes. */
function connectPath(slug: string, t: ConnectTarget): string {
  if (t.dataClass === "default" && t.role === "primary") return tenantPath(slug, "/key");
  return tenantPath(slug, `/classes/${encodeURIComponent(t.dataClass)}/${t.role === "secondary" ? "secondary-key" : "key"}`);
}

/** The state the connection left the tenant (default primary) or the class in, and the steps that ran. */
function connectOutcome(r: ConnectKeyResult | ConnectClassKeyResult): { state: string; steps: ValidationStep[] } {
  return { state: "dataClass" in r ? r.dataClass.state : r.tenant.state, steps: r.validation.steps };
}

const TITLE: Record<ConnectTarget["role"], (c: string) => string> = {
  primary: (c) => (c === "default" ? "Connect your key" : `Connect the key of class ${c}`),
  secondary: (c) => `Add a secondary key to class ${c}`,
};

export function ConnectKeyWizard({ slug, initialTarget }: { slug: string; initialTarget: ConnectTarget }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const [target, setTarget] = useState<ConnectTarget>(initialTarget);
  const classes = useDataClasses(slug);
  const showTarget = initialTarget.dataClass !== "default" || initialTarget.role === "secondary" || (classes.data?.length ?? 0) > 1;
  const [provider, setProvider] = useState<Provider>("aws");
  const [keyId, setKeyId] = useState("");
  // KMIP only: the CA that issued the tenant's KMIP server certificate.
  const [serverCaPem, setServerCaPem] = useState("");
  const debouncedKey = useDebounced(keyId.trim(), 250);

  const info = useQuery({ queryKey: qk.connectInfo(slug), queryFn: ({ signal }) => api<ConnectInfo>(tenantPath(slug, "/connect-info"), { signal }), staleTime: 60_000 });
  const format = useQuery({
    queryKey: ["key-ref", provider, debouncedKey],
    queryFn: ({ signal }) => api<KeyRefCheck>("/api/v1/key-ref/validate", { method: "POST", body: { provider, keyId: debouncedKey }, signal }),
    enabled: debouncedKey.length > 0,
    staleTime: Infinity,
  });
  const connect = useMutation({
    mutationFn: () =>
      sensitive(() =>
        api<ConnectKeyResult | ConnectClassKeyResult>(connectPath(slug, target), { method: "PUT", body: { provider, keyId: keyId.trim(), ...(provider === "kmip" ? { serverCaPem } : {}) } }),
      ).then(connectOutcome),
    onSuccess: () => Promise.all([qc.invalidateQueries({ queryKey: qk.health(slug) }), qc.invalidateQueries({ queryKey: qk.classes(slug) })]),
  });

  const formatOk = format.data?.ok === true && debouncedKey === keyId.trim();
  const formatError = debouncedKey && format.data && !format.data.ok ? (format.data.message ?? "not a valid key reference") : null;
  const step = connect.isSuccess ? 4 : formatOk ? 3 : keyId ? 2 : 1;
  const failedSteps = connect.error instanceof ApiError && Array.isArray(connect.error.body.steps) ? (connect.error.body.steps as ValidationStep[]) : null;

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>{TITLE[target.role](target.dataClass)}</h1>
          <p className="muted">The broker wraps your data keys with a key in your own cloud. You keep control: revoke the grant and the broker stops serving your data.</p>
        </div>
      </div>
      <ol className="wizard-steps" aria-label="Progress">
        {["Provider", "Key", "Grant access", "Validate"].map((label, i) => (
          <li key={label} aria-current={step === i + 1 ? "step" : undefined}>
            {i + 1}. {label}
          </li>
        ))}
      </ol>

      {showTarget && classes.data ? (
        <Card>
          <ConnectTargetPicker
            classes={classes.data}
            target={target}
            onChange={(t) => {
              setTarget(t);
              connect.reset();
            }}
          />
        </Card>
      ) : null}

      <Card>
        <fieldset>
          <legend>1. Where is your key?</legend>
          <div className="choice-group">
            {(["aws", "azure", "gcp", "kmip", ...(info.data?.pkcs11.enabled ? (["pkcs11"] as const) : [])] as const).map((p) => (
              <label key={p} className="choice">
                <input
                  type="radio"
                  name="provider"
                  value={p}
                  checked={provider === p}
                  onChange={() => {
                    setProvider(p);
                    connect.reset();
                  }}
                />
                {PROVIDER_LABEL[p]}
              </label>
            ))}
          </div>
        </fieldset>
      </Card>

      <Card>
        <h2>2. Your key</h2>
        <Field
          label={KEY_LABEL[provider]}
          name="keyId"
          value={keyId}
          onChange={(e) => {
            setKeyId(e.target.value);
            connect.reset();
          }}
          placeholder={KEY_PLACEHOLDER[provider]}
          spellCheck={false}
          autoComplete="off"
          className="mono"
          error={formatError}
          ok={formatOk ? "Format looks right." : null}
          hint={format.isFetching ? "Checking format…" : "Checked as you type with the same rules the broker applies."}
        />
        {provider === "kmip" ? (
          <div className="field">
            <label className="label" htmlFor="kmip-server-ca">
              KMIP server CA certificate (PEM)
            </label>
            <textarea
              id="kmip-server-ca"
              name="serverCaPem"
              className="input mono"
              rows={6}
              spellCheck={false}
              value={serverCaPem}
              placeholder="-----BEGIN CERTIFICATE-----"
              onChange={(e) => {
                setServerCaPem(e.target.value);
                connect.reset();
              }}
            />
            <span className="hint">The broker trusts only this CA for your KMIP server&apos;s certificate.</span>
          </div>
        ) : null}
      </Card>

      <Card>
        <h2>3. Grant the broker access</h2>
        {info.isPending ? (
          <LoadingBlock label="Loading grant instructions" />
        ) : info.isError ? (
          <ErrorState error={info.error} onRetry={() => void info.refetch()} />
        ) : (
          <div className="stack">
            <p className="muted">
              {provider === "pkcs11" ? "Do these on your HSM." : "Run one of these in your own account."} Your tenant id is <code data-testid="tenant-id">{info.data.tenantId}</code>.
            </p>
            {grantsFor(provider, info.data, keyId.trim()).map((g) => (
              <div key={g.testId} className="stack" style={{ gap: "0.35rem" }}>
                <h3>{g.title}</h3>
                <p className="hint" style={{ margin: 0 }}>
                  {g.description}
                </p>
                <CodeBlock code={g.code} label={g.title} testId={g.testId} />
              </div>
            ))}
          </div>
        )}
      </Card>

      <Card>
        <h2>4. Validate</h2>
        <p className="muted">The broker wraps a random test key with your key, unwraps it and compares. Nothing is saved unless every step passes.</p>
        <Button onClick={() => connect.mutate()} loading={connect.isPending} disabled={!formatOk || (provider === "kmip" && !serverCaPem.includes("BEGIN CERTIFICATE"))}>
          Validate and connect
        </Button>
        <div className="stack" style={{ marginTop: "0.75rem" }} aria-live="polite">
          {connect.isSuccess ? (
            <>
              <Alert tone="success">
                {target.role === "secondary" ? `Connected as the secondary key of ${target.dataClass}. ` : "Connected. "}
                {target.dataClass === "default" && target.role === "primary" ? "Your tenant" : `Class ${target.dataClass}`} is{" "}
                <strong data-testid="connect-state">{connect.data.state}</strong>. <Link href={`/t/${slug}`}>See key health</Link> or{" "}
                <Link href={`/t/${slug}/tokens`}>create a service token</Link>.
              </Alert>
              <ValidationSteps steps={connect.data.steps} />
            </>
          ) : null}
          {connect.isError && !(connect.error instanceof ApiError && connect.error.code === "reauth_required") ? (
            <>
              <ErrorState error={connect.error} title="Validation failed" />
              {failedSteps ? <ValidationSteps steps={failedSteps} /> : null}
            </>
          ) : null}
        </div>
      </Card>
    </div>
  );
}
