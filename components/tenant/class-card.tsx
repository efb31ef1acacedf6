"use client";
// One data class on the tenant page: its key, lock state, health, last lock and data keys, its
// secondary key when it has one, and the actions the signed-in role may take on it.
import { useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { api, tenantPath } from "../api";
import { fmtAgo, fmtMs, fmtTime, PROVIDER_LABEL } from "../format";
import { HealthBadge } from "../ui/badge";
import { Card, CardTitle } from "../ui/card";
import { ClassLockSwitch } from "./class-lock-switch";
import { ConfirmedAction } from "./confirmed-action";
import { SecondaryKeyPanel } from "./secondary-key-panel";
import { refreshClasses } from "./class-refresh";
import type { ClassHealth } from "./types";

/** What the signed-in role may do to a class (can() of lib/auth/permissions.ts, decided on the page). */
export interface ClassPermissions {
  lock: boolean;
  connectKey: boolean;
  create: boolean;
  remove: boolean;
  removeSecondary: boolean;
  failoverDrill: boolean;
}

export const NO_CLASS_PERMISSIONS: ClassPermissions = { lock: false, connectKey: false, create: false, remove: false, removeSecondary: false, failoverDrill: false };

/** The connect wizard, opened for one class and role. */
export function connectKeyHref(slug: string, dataClass: string, role: "primary" | "secondary" = "primary"): string {
  const q = new URLSearchParams({ class: dataClass });
  if (role === "secondary") q.set("role", "secondary");
  return `/t/${slug}/key?${q.toString()}`;
}

const LOCK_SOURCE_TEXT: Record<string, string> = {
  kms: "the KMS refused the broker's access to this class's key",
  kill_switch: "locked with the kill switch",
  drill: "a revocation drill is running",
};

/** How many of the class's last locks the card lists. */
const LOCKS_SHOWN = 3;

function ClassLockHistory({ locks }: { locks: ClassHealth["locks"] }) {
  if (locks.length === 0) return <span>never locked</span>;
  return (
    <ul style={{ margin: 0, paddingLeft: 0, listStyle: "none" }}>
      {locks.slice(0, LOCKS_SHOWN).map((l) => (
        <li key={l.id} data-testid="class-lock-entry" data-cause={l.cause}>
          {fmtTime(l.effectiveAt)} · {l.cause}
          {l.reason ? (
            <>
              {" "}
              · <code>{l.reason}</code>
            </>
          ) : null}
          {l.timeToLockMs != null ? <span className="muted"> · locked in {fmtMs(l.timeToLockMs)}</span> : null}
        </li>
      ))}
    </ul>
  );
}

export function ClassCard({ slug, dataClass: c, can }: { slug: string; dataClass: ClassHealth; can: ClassPermissions }) {
  const qc = useQueryClient();
  const locked = c.state === "locked";
  const key = c.key;
  const titleId = `class-${c.name}-title`;
  return (
    <Card tone={locked ? "danger" : undefined} aria-labelledby={titleId} data-testid={`class-card-${c.name}`} data-state={c.state}>
      <CardTitle as="h3" action={<HealthBadge value={c.state} testId="class-state" />}>
        <span id={titleId}>
          Data class <code>{c.name}</code>
        </span>
      </CardTitle>
      {locked ? (
        <p data-testid="class-lock" role="status">
          Locked since {fmtTime(c.since)} · reason <code>{c.reason ?? "locked"}</code>
          {c.lockSource ? <span className="muted"> · {LOCK_SOURCE_TEXT[c.lockSource] ?? c.lockSource}</span> : null}
        </p>
      ) : null}
      <dl className="kv">
        <dt>Key</dt>
        <dd>
          {key ? (
            <>
              {PROVIDER_LABEL[key.provider] ?? key.provider} <code data-testid="class-key-id">{key.keyId}</code>
            </>
          ) : (
            <span data-testid="class-key-id">no key connected yet</span>
          )}
        </dd>
        {key ? (
          <>
            <dt>Version</dt>
            <dd>
              <code>{key.keyVersion ?? "—"}</code>
            </dd>
            <dt>Probe</dt>
            <dd data-testid="class-probe">{key.probe?.lastProbeAt ? `${key.probe.outcome ?? "—"} · ${fmtMs(key.probe.latencyMs)} · ${fmtAgo(key.probe.lastProbeAt)}` : "not yet"}</dd>
            <dt>KMS latency p50 / p99</dt>
            <dd>
              {fmtMs(c.health?.latencyMsP50)} / {fmtMs(c.health?.latencyMsP99)}
            </dd>
          </>
        ) : null}
        <dt>Data keys (active / all)</dt>
        <dd data-testid="class-deks">
          {c.deks.active} / {c.deks.total}
        </dd>
        <dt>Last locks</dt>
        <dd data-testid="class-locks">
          <ClassLockHistory locks={c.locks} />
        </dd>
      </dl>
      <SecondaryKeyPanel slug={slug} dataClass={c} canRemove={can.removeSecondary} canDrill={can.failoverDrill} />
      <div className="row" style={{ marginTop: "0.75rem", flexWrap: "wrap" }}>
        {can.lock && key ? <ClassLockSwitch slug={slug} dataClass={c} /> : null}
        {can.connectKey ? (
          <Link className="btn btn-secondary btn-sm" href={connectKeyHref(slug, c.name)}>
            {key ? `Change key of ${c.name}` : `Connect a key to ${c.name}`}
          </Link>
        ) : null}
        {can.connectKey && key && !c.secondary ? (
          <Link className="btn btn-secondary btn-sm" href={connectKeyHref(slug, c.name, "secondary")}>
            Add secondary key to {c.name}
          </Link>
        ) : null}
        {can.remove && c.name !== "default" && c.deks.total === 0 ? (
          <ConfirmedAction
            label={`Remove class ${c.name}`}
            title={`Remove data class ${c.name}?`}
            confirmLabel="Remove class"
            failureTitle="Could not remove the class"
            run={() => api(tenantPath(slug, `/classes/${encodeURIComponent(c.name)}`), { method: "DELETE" })}
            onDone={() => refreshClasses(qc, slug)}
          >
            <p>
              The class has no data keys, so no data is lost. Its key connections go; services asking for <code>{c.name}</code> get HTTP 404 until it is created again.
            </p>
          </ConfirmedAction>
        ) : null}
      </div>
    </Card>
  );
}
