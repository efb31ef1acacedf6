"use client";
// Audit webhooks: the broker POSTs this tenant's audit events, HMAC-signed with a per-endpoint
// secret that is returned once at creation (stored by the broker, never shown again).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, tenantPath } from "../api";
import { fmtMs, fmtTime } from "../format";
import { qk } from "../query-keys";
import type { WebhookCreated, WebhookDelivery, WebhookInfo } from "./types";
import { useSensitiveAction } from "../reauth";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { ShownOnceSecret } from "../ui/copy-button";
import { Dialog } from "../ui/dialog";
import { Field } from "../ui/input";
import { EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";

const DELIVERY_POLL_MS = 3_000;

export function WebhooksPanel({ slug }: { slug: string }) {
  const qc = useQueryClient();
  // Adding and removing endpoints need a recent sign-in (permission table: webhook.create/delete are freshSignIn).
  const sensitive = useSensitiveAction();
  const [url, setUrl] = useState("");
  const [open, setOpen] = useState<string | null>(null);
  const [removing, setRemoving] = useState<WebhookInfo | null>(null);
  const list = useQuery({ queryKey: qk.webhooks(slug), queryFn: ({ signal }) => api<{ webhooks: WebhookInfo[] }>(tenantPath(slug, "/webhooks"), { signal }) });
  const create = useMutation({
    mutationFn: (u: string) => sensitive(() => api<WebhookCreated>(tenantPath(slug, "/webhooks"), { method: "POST", body: { url: u } })),
    onSuccess: (r) => {
      setUrl("");
      setOpen(r.webhook.id);
      return qc.invalidateQueries({ queryKey: qk.webhooks(slug), exact: true });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => sensitive(() => api(tenantPath(slug, `/webhooks/${id}`), { method: "DELETE" })),
    onSuccess: (_r, id) => {
      setRemoving(null);
      if (open === id) setOpen(null);
      qc.removeQueries({ queryKey: qk.webhookDeliveries(slug, id) });
      return qc.invalidateQueries({ queryKey: qk.webhooks(slug), exact: true });
    },
  });
  const hooks = list.data?.webhooks ?? [];

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Webhooks</h1>
          <p className="muted">
            The broker sends every audit event of this tenant to these endpoints, signed with HMAC-SHA256 (<code>x-cmek-signature</code> over <code>x-cmek-timestamp</code> and the body).
          </p>
        </div>
      </div>
      <Card>
        <CardTitle>Add an endpoint</CardTitle>
        <form
          className="row"
          style={{ alignItems: "flex-end" }}
          onSubmit={(e) => {
            e.preventDefault();
            if (url.trim()) create.mutate(url.trim());
          }}
        >
          <div style={{ flex: "1 1 380px" }}>
            <Field label="Endpoint URL" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://siem.example.com/cmek" maxLength={2048} required />
          </div>
          <Button type="submit" loading={create.isPending}>
            Add endpoint
          </Button>
        </form>
        {create.isError ? <ErrorState error={create.error} title="Could not add the endpoint" /> : null}
        {create.isSuccess ? (
          <ShownOnceSecret secret={create.data.secret} testId="new-webhook-secret" copyLabel="Copy secret">
            Copy the signing secret for <code>{create.data.webhook.url}</code> now.
          </ShownOnceSecret>
        ) : null}
      </Card>

      <Card>
        <CardTitle>Endpoints</CardTitle>
        {list.isPending ? (
          <LoadingBlock label="Loading webhooks" />
        ) : list.isError ? (
          <ErrorState error={list.error} onRetry={() => void list.refetch()} title="Could not load webhooks" />
        ) : hooks.length === 0 ? (
          <EmptyState title="No webhooks yet">
            <p>Add your SIEM's or log pipeline's HTTPS endpoint above to receive every key access as it happens.</p>
          </EmptyState>
        ) : (
          <Table caption="Webhook endpoints" data-testid="webhooks-table">
            <thead>
              <tr>
                <Th>URL</Th>
                <Th>Added</Th>
                <Th>Delivered through</Th>
                <Th>Status</Th>
                <Th>
                  <span className="sr-only">Actions</span>
                </Th>
              </tr>
            </thead>
            <tbody>
              {hooks.map((h) => (
                <tr key={h.id} data-testid="webhook-row" data-url={h.url}>
                  <Td>
                    <code>{h.url}</code>
                  </Td>
                  <Td>{fmtTime(h.createdAt)}</Td>
                  <Td>#{h.cursorSeq}</Td>
                  <Td>{h.disabledAt ? <Badge tone="warning">disabled</Badge> : <Badge tone="success">active</Badge>}</Td>
                  <Td>
                    <div className="row" style={{ gap: "0.4rem", flexWrap: "nowrap" }}>
                      <Button variant="secondary" size="sm" aria-expanded={open === h.id} aria-controls={`deliveries-${h.id}`} onClick={() => setOpen(open === h.id ? null : h.id)}>
                        {open === h.id ? "Hide deliveries" : "Deliveries"}
                        <span className="sr-only"> for {h.url}</span>
                      </Button>
                      <Button variant="danger" size="sm" onClick={() => setRemoving(h)}>
                        Remove<span className="sr-only"> {h.url}</span>
                      </Button>
                    </div>
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Card>

      {open && hooks.some((h) => h.id === open) ? <DeliveryLog slug={slug} hook={hooks.find((h) => h.id === open)!} /> : null}

      <Dialog
        open={removing !== null}
        title="Remove this webhook?"
        onClose={() => setRemoving(null)}
        actions={
          <>
            <Button variant="secondary" onClick={() => setRemoving(null)}>
              Cancel
            </Button>
            <Button variant="danger" loading={remove.isPending} onClick={() => removing && remove.mutate(removing.id)}>
              Remove webhook
            </Button>
          </>
        }
      >
        <p>
          <code>{removing?.url}</code> will stop receiving audit events immediately.
        </p>
        {remove.isError ? <ErrorState error={remove.error} title="Could not remove the webhook" /> : null}
      </Dialog>
    </div>
  );
}

function DeliveryLog({ slug, hook }: { slug: string; hook: WebhookInfo }) {
  const q = useQuery({
    queryKey: qk.webhookDeliveries(slug, hook.id),
    queryFn: ({ signal }) => api<{ deliveries: WebhookDelivery[] }>(tenantPath(slug, `/webhooks/${hook.id}/deliveries?limit=50`), { signal }),
    refetchInterval: DELIVERY_POLL_MS,
  });
  const rows = q.data?.deliveries ?? [];
  return (
    <Card id={`deliveries-${hook.id}`} aria-labelledby={`deliveries-title-${hook.id}`}>
      <CardTitle>
        <span id={`deliveries-title-${hook.id}`}>
          Delivery log: <code>{hook.url}</code>
        </span>
      </CardTitle>
      {q.isPending ? (
        <LoadingBlock label="Loading deliveries" />
      ) : q.isError ? (
        <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load deliveries" />
      ) : rows.length === 0 ? (
        <EmptyState title="No deliveries yet">
          <p>The next audit event of this tenant is sent within seconds; this log refreshes by itself.</p>
        </EmptyState>
      ) : (
        <Table caption="Webhook deliveries, newest first" data-testid="deliveries-table">
          <thead>
            <tr>
              <Th>Time</Th>
              <Th>Events</Th>
              <Th>Attempt</Th>
              <Th>Result</Th>
              <Th>Latency</Th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.id} data-status={d.status ?? "error"}>
                <Td>{fmtTime(d.createdAt)}</Td>
                <Td>
                  #{d.firstSeq}
                  {d.lastSeq !== d.firstSeq ? `–#${d.lastSeq}` : ""}
                </Td>
                <Td>{d.attempt}</Td>
                <Td>
                  {d.status !== null && d.status >= 200 && d.status < 300 ? (
                    <Badge tone="success">HTTP {d.status}</Badge>
                  ) : (
                    <Badge tone="danger">{d.status !== null ? `HTTP ${d.status}` : "failed"}</Badge>
                  )}
                  {d.error ? <span className="muted"> {d.error}</span> : null}
                </Td>
                <Td>{fmtMs(d.latencyMs)}</Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </Card>
  );
}
