"use client";
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { api, tenantPath } from "../api";
import { fmtAgo, fmtMs, fmtPct, fmtTime, PROVIDER_LABEL } from "../format";
import { qk } from "../query-keys";
import { HealthBadge } from "../ui/badge";
import { Card, CardTitle, Stat } from "../ui/card";
import { EmptyState, ErrorState, LoadingBlock } from "../ui/state";
import { Table, Td, Th } from "../ui/table";
import { NO_CLASS_PERMISSIONS, type ClassPermissions } from "./class-card";
import { DataClasses } from "./data-classes";
import { KeyLifecycle } from "./key-lifecycle";
import { KillSwitch } from "./kill-switch";
import { LatencyChart } from "./latency-chart";
import { ShredTenant } from "./shred";
import type { TenantHealth } from "./types";

/** Polling keeps the page live: a revocation detected by the broker turns it red within seconds. */
export const HEALTH_POLL_MS = 2_000;

export function useTenantHealth(slug: string) {
  return useQuery({ queryKey: qk.health(slug), queryFn: ({ signal }) => api<TenantHealth>(tenantPath(slug, "/health"), { signal }), refetchInterval: HEALTH_POLL_MS });
}

export function TenantOverview({
  slug,
  canLock,
  canChangeKey,
  canShred = false,
  canRewrap = false,
  canCancelRewrap = false,
  classPermissions = NO_CLASS_PERMISSIONS,
  vendorView = false,
}: {
  slug: string;
  canLock: boolean;
  canChangeKey: boolean;
  canShred?: boolean;
  canRewrap?: boolean;
  canCancelRewrap?: boolean;
  classPermissions?: ClassPermissions;
  vendorView?: boolean;
}) {
  const q = useTenantHealth(slug);
  if (q.isPending) {
    return (
      <Card>
        <LoadingBlock label="Loading key health" lines={6} />
      </Card>
    );
  }
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} title="Could not load key health" />;
  const h = q.data;
  const { tenant, key } = h;
  const locked = tenant.state === "locked";
  const recentErrors = h.kms?.recentErrors ?? [];
  const errorClasses = [...new Set(recentErrors.map((e) => `${e.kind}${e.code ? ` (${e.code})` : ""}`))];

  return (
    <div className="stack" data-testid="tenant-overview" data-state={tenant.state} data-health={h.health}>
      <div className="page-head">
        <div>
          <h1>{tenant.name}</h1>
          <p className="muted">
            <code>{tenant.slug}</code> · {vendorView ? "read-only vendor view" : "key health"}
          </p>
        </div>
        <div className="row">
          <span className="muted">State</span>
          <HealthBadge value={h.health === "ok" ? "active" : h.health} testId="tenant-state" />
        </div>
      </div>

      {tenant.shreddedAt ? (
        <Card tone="danger" role="alert" data-testid="shredded-banner">
          <CardTitle>Shredded: every data key of this tenant was destroyed</CardTitle>
          <p>
            On {fmtTime(tenant.shreddedAt)} · its data cannot be decrypted by anyone any more; requests get HTTP 410. The certificate of destruction is in the audit log.
          </p>
        </Card>
      ) : locked ? (
        <Card tone="danger" role="alert" data-testid="locked-banner">
          <CardTitle>Locked: data for this tenant cannot be decrypted</CardTitle>
          <p>
            Since {fmtTime(tenant.since)} · reason <code>{tenant.lockReason ?? "locked"}</code>
          </p>
          <p className="muted">
            {tenant.lockSource === "kms"
              ? tenant.manualResume
                ? "The KMS refused the broker's access. It stays locked until an admin unlocks it."
                : "The KMS refused the broker's access. It resumes by itself when the key works again, or an admin can unlock it now."
              : "Locked with the kill switch. It stays locked until an admin unlocks it, which re-validates the key first."}
          </p>
          {h.deletion ? (
            <p data-testid="deletion-window" data-unrecoverable-after={h.deletion.unrecoverableAfter}>
              <strong>
                Your key is scheduled for deletion. After {fmtTime(h.deletion.unrecoverableAfter)} ({h.deletion.daysLeft} {h.deletion.daysLeft === 1 ? "day" : "days"} left) the KMS
                destroys it and this tenant&apos;s data becomes unrecoverable.
              </strong>{" "}
              Cancel the deletion in your KMS before then (and enable the key if it comes back disabled) to resume.
            </p>
          ) : null}
        </Card>
      ) : null}

      {!key ? (
        <Card>
          <EmptyState title="No key connected yet">
            <p>Until a key is connected and validated, the broker cannot encrypt or decrypt for this tenant.</p>
            {canChangeKey ? (
              <Link className="btn btn-primary" href={`/t/${slug}/key`}>
                Connect a key
              </Link>
            ) : null}
          </EmptyState>
        </Card>
      ) : (
        <>
          <div className="grid">
            <Stat label="Provider" value={PROVIDER_LABEL[key.provider] ?? key.provider} testId="key-provider" />
            <Stat label="Last probe" value={h.probe?.lastProbeAt ? `${fmtAgo(h.probe.lastProbeAt)} · ${fmtMs(h.probe.latencyMs)}` : "not yet"} />
            <Stat label="KMS latency p50 / p99" value={`${fmtMs(h.kms?.latencyMsP50)} / ${fmtMs(h.kms?.latencyMsP99)}`} />
            <Stat label="Cache hit ratio (1 h)" value={fmtPct(h.cacheHitRatio)} />
            <Stat label="Data keys (active / all)" value={`${h.deks.active} / ${h.deks.total}`} />
            <Stat label="Last lock: time to lock" value={h.locks[0]?.timeToLockMs != null ? fmtMs(h.locks[0].timeToLockMs) : h.lastLock ? "not measured" : "never locked"} />
          </div>
          <div className="grid-2">
            <Card>
              <CardTitle>Key</CardTitle>
              <dl className="kv">
                <dt>Key</dt>
                <dd>
                  <code data-testid="key-id">{key.keyId}</code>
                </dd>
                <dt>Version</dt>
                <dd>
                  <code>{key.keyVersion ?? "—"}</code>
                </dd>
                <dt>Validated</dt>
                <dd>{fmtTime(key.lastValidatedAt)}</dd>
                <dt>Probe outcome</dt>
                <dd>{h.probe?.outcome ?? "—"}</dd>
                <dt>Last KMS success</dt>
                <dd>{fmtAgo(h.kms?.lastSuccessAt)}</dd>
                <dt>Recent error classes</dt>
                <dd data-testid="error-classes">{errorClasses.length ? errorClasses.join(", ") : "none"}</dd>
              </dl>
              {canChangeKey ? (
                <p style={{ marginTop: "0.75rem" }}>
                  <Link href={`/t/${slug}/key`}>Connect a different key</Link>
                </p>
              ) : null}
            </Card>
            <Card>
              <CardTitle>KMS latency, last hour</CardTitle>
              <LatencyChart points={h.latency} />
            </Card>
          </div>
        </>
      )}

      {!tenant.shreddedAt ? <DataClasses slug={slug} classes={h.classes ?? []} can={classPermissions} /> : null}

      {key && !tenant.shreddedAt ? <KeyLifecycle slug={slug} canRewrap={canRewrap} canCancel={canCancelRewrap} /> : null}

      {canLock && key && !tenant.shreddedAt ? <KillSwitch slug={slug} tenant={tenant} /> : null}
      {!canLock && !vendorView ? <p className="muted">You have read-only access: locking and key changes are for tenant admins.</p> : null}

      {canShred && !vendorView && !tenant.shreddedAt ? <ShredTenant slug={slug} tenant={tenant} /> : null}

      <Card>
        <CardTitle>Past locks and drills</CardTitle>
        {h.locks.length === 0 ? (
          <EmptyState title="No locks yet">
            <p>When the KMS refuses access or someone uses the kill switch, each lock and its measured time to lock appear here.</p>
          </EmptyState>
        ) : (
          <Table caption="Past locks">
            <thead>
              <tr>
                <Th>When</Th>
                <Th>Cause</Th>
                <Th>Reason</Th>
                <Th>Detection</Th>
                <Th>Time to lock</Th>
                <Th>Fan-out</Th>
              </tr>
            </thead>
            <tbody>
              {h.locks.map((l) => (
                <tr key={l.id}>
                  <Td>{fmtTime(l.effectiveAt)}</Td>
                  <Td>{l.cause}</Td>
                  <Td>
                    <code>{l.reason ?? "—"}</code>
                  </Td>
                  <Td>{fmtMs(l.detectionMs)}</Td>
                  <Td>{fmtMs(l.timeToLockMs)}</Td>
                  <Td>{fmtMs(l.fanoutMs)}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Card>
      {vendorView ? (
        <Card>
          <CardTitle>Audit metadata</CardTitle>
          <dl className="kv">
            <dt>Events in the chain</dt>
            <dd>{h.audit.events}</dd>
            <dt>Last event</dt>
            <dd>{fmtTime(h.audit.lastAt)}</dd>
          </dl>
        </Card>
      ) : null}
    </div>
  );
}
