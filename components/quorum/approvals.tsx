"use client";
// M-of-N approvals (issue 13): the tenant's quorum policy, and its approval requests with their
// history. Approving needs a fresh step-up (or password); the M-th distinct approval runs the action.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { z } from "zod";
import type { QuorumAction, ZApprovalList, ZQuorumPolicy } from "@/lib/contracts/quorum";
import { api, tenantPath } from "../api";
import { fmtTime } from "../format";
import { useSensitiveAction } from "../reauth";
import { Badge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, CardTitle } from "../ui/card";
import { Field } from "../ui/input";
import { Alert, EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";

type Policy = z.infer<typeof ZQuorumPolicy>;
type Requests = z.infer<typeof ZApprovalList>;

// Every protectable action, labelled (the Record type makes a new one a compile error here).
const LABEL: Record<QuorumAction, string> = {
  "tenant.unlock": "Unlock after a kill switch",
  "key.connect": "Key or cloud switch",
  "tenant.shred": "Crypto-shredding (destroy all data keys)",
  "token.create": "New service tokens",
  "audit.retention": "Audit retention",
  "governance.policy": "Purpose and access policies",
  "governance.break_glass": "Break-glass exceptions",
  "quorum.policy": "Weakening this quorum",
};
const QUORUM_ACTIONS = Object.keys(LABEL) as QuorumAction[];

export function QuorumPanel({ slug, admin, userEmail }: { slug: string; admin: boolean; userEmail: string }) {
  const qc = useQueryClient();
  const sensitive = useSensitiveAction();
  const policyKey = ["tenant", slug, "quorum"] as const;
  const requestsKey = ["tenant", slug, "approvals"] as const;
  const policy = useQuery({ queryKey: policyKey, queryFn: ({ signal }) => api<Policy>(tenantPath(slug, "/quorum"), { signal }) });
  const requests = useQuery({ queryKey: requestsKey, queryFn: ({ signal }) => api<Requests>(tenantPath(slug, "/approvals?status=all"), { signal }), refetchInterval: 3_000 });
  const [actions, setActions] = useState<string[]>([]);
  const [m, setM] = useState("1");
  const [stepUp, setStepUp] = useState(false);
  useEffect(() => {
    if (!policy.data) return;
    setActions(policy.data.actions);
    setM(String(policy.data.requiredApprovals));
    setStepUp(policy.data.requireStepUp);
  }, [policy.data]);
  const refresh = () => Promise.all([qc.invalidateQueries({ queryKey: policyKey }), qc.invalidateQueries({ queryKey: requestsKey })]);

  const save = useMutation({
    mutationFn: () => sensitive(() => api<Policy | { approval: unknown }>(tenantPath(slug, "/quorum"), { method: "PUT", body: { actions, requiredApprovals: Number(m), requireStepUp: stepUp } })),
    onSuccess: refresh,
  });
  const approve = useMutation({ mutationFn: (id: string) => sensitive(() => api(tenantPath(slug, `/approvals/${id}/approve`), { method: "POST" })), onSuccess: refresh });
  const cancel = useMutation({ mutationFn: (id: string) => api(tenantPath(slug, `/approvals/${id}/cancel`), { method: "POST" }), onSuccess: refresh });

  return (
    <>
      <Card aria-labelledby="quorum-title">
        <CardTitle>
          <span id="quorum-title">Quorum policy</span>
        </CardTitle>
        {policy.isPending ? <LoadingBlock /> : policy.isError ? <ErrorState error={policy.error} /> : null}
        {policy.data ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              save.mutate();
            }}
          >
            <fieldset disabled={!admin}>
              <legend>Actions that need approval</legend>
              {QUORUM_ACTIONS.map((a) => (
                <label key={a} className="row" style={{ gap: "0.5rem" }}>
                  <input type="checkbox" checked={actions.includes(a)} onChange={(e) => setActions(e.target.checked ? [...actions, a] : actions.filter((x) => x !== a))} />
                  {LABEL[a]}
                </label>
              ))}
              <Field label={`Approvals needed (M of the ${policy.data.admins} admins, besides the requester)`} type="number" min={1} max={20} value={m} onChange={(e) => setM(e.target.value)} />
              <label className="row" style={{ gap: "0.5rem" }}>
                <input type="checkbox" checked={stepUp} onChange={(e) => setStepUp(e.target.checked)} />
                Require a passkey or authenticator app for every admin
              </label>
              {admin ? (
                <Button type="submit" loading={save.isPending}>
                  Save quorum policy
                </Button>
              ) : null}
            </fieldset>
            {save.data && "approval" in save.data ? (
              <Alert tone="info">This weakens the policy: it waits for approval below.</Alert>
            ) : save.isSuccess ? (
              <Alert tone="success">Quorum policy saved.</Alert>
            ) : null}
            {save.isError ? <ErrorState error={save.error} title="The policy was not saved" /> : null}
          </form>
        ) : null}
      </Card>
      <Card aria-labelledby="approvals-title">
        <CardTitle>
          <span id="approvals-title">Approval requests</span>
        </CardTitle>
        {requests.isPending ? <LoadingBlock /> : requests.isError ? <ErrorState error={requests.error} /> : null}
        {requests.data && requests.data.requests.length === 0 ? <EmptyState title="No requests yet" /> : null}
        {requests.data && requests.data.requests.length > 0 ? (
          <Table caption="Approval requests, newest first">
            <thead>
              <tr>
                <Th>Action</Th>
                <Th>Requested by</Th>
                <Th>Approvals</Th>
                <Th>Status</Th>
                <Th>Expires</Th>
                <Th>Actions</Th>
              </tr>
            </thead>
            <tbody>
              {requests.data.requests.map((r) => (
                <tr key={r.id} data-testid={`approval-${r.id}`}>
                  <Td>
                    {LABEL[r.action]} <code>{r.params}</code>
                  </Td>
                  <Td>{r.requestedBy.name}</Td>
                  <Td>
                    {r.approvals.length} of {r.requiredApprovals}
                  </Td>
                  <Td>
                    <Badge tone={r.status === "executed" ? "success" : r.status === "pending" ? "warning" : r.status === "failed" ? "danger" : "neutral"}>{r.status}</Badge>
                  </Td>
                  <Td>{fmtTime(r.expiresAt)}</Td>
                  <Td>
                    {r.status === "pending" && admin && r.requestedBy.name !== userEmail && !r.approvals.some((v) => v.email === userEmail) ? (
                      <Button size="sm" onClick={() => approve.mutate(r.id)} loading={approve.isPending && approve.variables === r.id}>
                        Approve
                      </Button>
                    ) : null}
                    {r.status === "pending" && r.requestedBy.name === userEmail ? (
                      <Button size="sm" variant="ghost" onClick={() => cancel.mutate(r.id)}>
                        Cancel
                      </Button>
                    ) : null}
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        ) : null}
        {approve.isError ? <ErrorState error={approve.error} title="The approval was not recorded" /> : null}
      </Card>
    </>
  );
}
