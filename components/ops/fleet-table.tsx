"use client";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useState } from "react";
import { api } from "../api";
import { fmtAgo, fmtMs, fmtPct, PROVIDER_LABEL } from "../format";
import { qk } from "../query-keys";
import { HealthBadge } from "../ui/badge";
import { Button } from "../ui/button";
import { Card, Stat } from "../ui/card";
import { Input, Select } from "../ui/input";
import { EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { SortableTh, Table, Td, Th, type SortDir } from "../ui/table";
import { FleetActivity } from "./fleet-activity";
import type { FleetPage } from "./types";

/** Live without reload: an operator sees a lock within a few seconds. */
export const FLEET_POLL_MS = 2_000;

type SortKey = "priority" | "slug" | "name" | "state" | "provider" | "lastProbe" | "probeLatency" | "since";

export function FleetTable() {
  const [page, setPage] = useState(1);
  const [sort, setSort] = useState<SortKey>("priority");
  const [dir, setDir] = useState<SortDir>("asc");
  const [state, setState] = useState("");
  const [provider, setProvider] = useState("");
  const [health, setHealth] = useState("");
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  useEffect(() => {
    const t = setTimeout(() => {
      setQ(search.trim());
      setPage(1);
    }, 300);
    return () => clearTimeout(t);
  }, [search]);

  const params = { page, pageSize: 25, sort, dir, state, provider, health, q };
  const query = useQuery({
    queryKey: qk.fleet(params),
    queryFn: ({ signal }) => {
      const sp = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined) sp.set(k, String(v));
      return api<FleetPage>(`/api/v1/fleet?${sp}`, { signal });
    },
    placeholderData: keepPreviousData,
    refetchInterval: FLEET_POLL_MS,
  });

  const sortBy = (key: SortKey) => {
    if (sort === key) setDir(dir === "asc" ? "desc" : "asc");
    else {
      setSort(key);
      setDir("asc");
    }
    setPage(1);
  };
  const filter = (set: (v: string) => void) => (e: React.ChangeEvent<HTMLSelectElement>) => {
    set(e.target.value);
    setPage(1);
  };
  const data = query.data;

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <h1>Fleet</h1>
          <p className="muted">Every tenant's key health. Locked and unreachable tenants are always listed first. Updates every few seconds.</p>
        </div>
      </div>
      {data?.vendorAlarms?.length ? (
        <div className="alert alert-error" role="alert" data-testid="vendor-alarms">
          <strong>Vendor-side KMS credential fault: no tenant is locked for it, but their requests fail with 503 until it is fixed.</strong>
          <ul>
            {data.vendorAlarms.map((a) => (
              <li key={`${a.instanceId} ${a.provider} ${a.cause}`}>
                {a.provider} · {a.cause.replace(/_/g, " ")} on instance {a.instanceId}: {a.count} calls, last {new Date(a.lastAt).toLocaleTimeString()}. {a.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <div className="grid">
        <Stat label="Locked" value={data ? data.summary.locked : "…"} testId="summary-locked" />
        <Stat label="KMS unreachable" value={data ? data.summary.unreachable : "…"} />
        <Stat label="Pending (no key)" value={data ? data.summary.pending : "…"} />
        <Stat label="Healthy" value={data ? data.summary.ok : "…"} />
      </div>
      <Card>
        <form className="row" role="search" aria-label="Filter tenants" onSubmit={(e) => e.preventDefault()}>
          <label className="field" style={{ flex: "1 1 220px" }}>
            <span className="label">Search</span>
            <Input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="slug, name or key" />
          </label>
          <label className="field">
            <span className="label">State</span>
            <Select value={state} onChange={filter(setState)}>
              <option value="">All</option>
              <option value="active">Active</option>
              <option value="locked">Locked</option>
              <option value="pending">Pending</option>
            </Select>
          </label>
          <label className="field">
            <span className="label">Provider</span>
            <Select value={provider} onChange={filter(setProvider)}>
              <option value="">All</option>
              <option value="aws">AWS</option>
              <option value="azure">Azure</option>
              <option value="gcp">Google Cloud</option>
              <option value="kmip">KMIP</option>
              <option value="pkcs11">HSM (PKCS#11)</option>
            </Select>
          </label>
          <label className="field">
            <span className="label">Health</span>
            <Select value={health} onChange={filter(setHealth)}>
              <option value="">All</option>
              <option value="locked">Locked</option>
              <option value="unreachable">Unreachable</option>
              <option value="pending">Pending</option>
              <option value="ok">Healthy</option>
            </Select>
          </label>
        </form>
      </Card>
      {query.isPending ? (
        <Card>
          <LoadingBlock label="Loading tenants" lines={8} />
        </Card>
      ) : query.isError && !data ? (
        <ErrorState error={query.error} onRetry={() => void query.refetch()} title="Could not load the fleet" />
      ) : data && data.tenants.length === 0 ? (
        <Card>
          <EmptyState title={q || state || provider || health ? "No tenant matches these filters" : "No tenants yet"}>
            <p>{q || state || provider || health ? "Clear a filter to see more." : "Create one with POST /api/v1/tenants and the vendor admin token."}</p>
          </EmptyState>
        </Card>
      ) : data ? (
        <>
          {query.isError ? <ErrorState error={query.error} title="Live updates paused" /> : null}
          <Table caption="Tenants" data-testid="fleet-table" aria-busy={query.isFetching}>
            <thead>
              <tr>
                <SortableTh label="Tenant" active={sort === "slug"} dir={dir} onSort={() => sortBy("slug")} />
                <SortableTh label="State" active={sort === "state"} dir={dir} onSort={() => sortBy("state")} />
                <SortableTh label="Provider" active={sort === "provider"} dir={dir} onSort={() => sortBy("provider")} />
                <SortableTh label="Last probe" active={sort === "lastProbe"} dir={dir} onSort={() => sortBy("lastProbe")} />
                <SortableTh label="Probe latency" active={sort === "probeLatency"} dir={dir} onSort={() => sortBy("probeLatency")} />
                <Th>KMS p50 / p99</Th>
                <Th>Error rate</Th>
                <Th>Cache hits</Th>
                <Th>Last unwrap</Th>
              </tr>
            </thead>
            <tbody>
              {data.tenants.map((t) => (
                <tr key={t.id} data-testid={`fleet-row-${t.slug}`} data-health={t.health}>
                  <Td>
                    <Link href={`/ops/tenants/${t.slug}`}>{t.name}</Link>
                    <br />
                    <code className="muted">{t.slug}</code>
                  </Td>
                  <Td>
                    <HealthBadge value={t.health === "ok" ? "active" : t.health} testId={`fleet-state-${t.slug}`} />
                    {t.lockReason ? (
                      <>
                        <br />
                        <code className="hint">{t.lockReason}</code>
                      </>
                    ) : null}
                  </Td>
                  <Td>{t.provider ? (PROVIDER_LABEL[t.provider] ?? t.provider) : "—"}</Td>
                  <Td>{t.lastProbeAt ? `${fmtAgo(t.lastProbeAt)} (${t.lastProbeOutcome ?? "?"})` : "—"}</Td>
                  <Td>{fmtMs(t.lastProbeLatencyMs)}</Td>
                  <Td>
                    {fmtMs(t.latencyMsP50)} / {fmtMs(t.latencyMsP99)}
                  </Td>
                  <Td>{fmtPct(t.errorRate)}</Td>
                  <Td>{fmtPct(t.cacheHitRatio)}</Td>
                  <Td>{fmtAgo(t.lastSuccessAt)}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
          <nav className="pager" aria-label="Pages">
            <span className="muted">
              {data.total} tenant{data.total === 1 ? "" : "s"} · page {data.page} of {data.pages}
            </span>
            <div className="row">
              <Button variant="secondary" size="sm" disabled={page <= 1} onClick={() => setPage(page - 1)}>
                Previous
              </Button>
              <Button variant="secondary" size="sm" disabled={page >= data.pages} onClick={() => setPage(page + 1)}>
                Next
              </Button>
            </div>
          </nav>
        </>
      ) : null}
      {/* Below the table: the tenants needing attention come first on this page. */}
      <FleetActivity />
    </div>
  );
}
