// The tenant's lifecycle as the API and the console show it: DEKs per key and version, what is
// safe to disable or revoke, and the re-wrap job's progress, rate and ETA.
import type { Lifecycle } from "../../contracts/lifecycle";
import type { Database } from "../../db/database";
import type { RewrapJob, RewrapJobStore } from "./job-store";
import { countStale, deksByKeyVersion } from "./stale-deks";

function describeJob(j: RewrapJob, now = Date.now()): NonNullable<Lifecycle["job"]> {
  const handled = j.done + j.failed;
  const end = j.finishedAt?.getTime() ?? now;
  const seconds = Math.max(0.001, (end - j.startedAt.getTime()) / 1000);
  const rate = handled > 0 ? handled / seconds : null;
  const remaining = Math.max(0, j.total - handled);
  const open = j.state === "running" || j.state === "paused";
  return {
    id: j.id,
    state: j.state,
    cause: j.cause,
    pauseCause: j.pauseCause,
    done: handled,
    rewrapped: j.done,
    failed: j.failed,
    total: j.total,
    percent: j.total > 0 ? Math.min(100, Math.round((handled / j.total) * 1000) / 10) : j.state === "completed" ? 100 : 0,
    ratePerSecond: rate === null ? null : Math.round(rate * 100) / 100,
    etaSeconds: open && rate ? Math.ceil(remaining / rate) : open && remaining === 0 ? 0 : null,
    startedAt: j.startedAt.toISOString(),
    updatedAt: j.updatedAt.toISOString(),
    finishedAt: j.finishedAt?.toISOString() ?? null,
  };
}

export async function lifecycleOf(db: Database, store: RewrapJobStore, tenant: { id: string; slug: string }): Promise<Lifecycle> {
  const rows = await deksByKeyVersion(db, tenant.id);
  const keys = new Map<string, Lifecycle["keys"][number]>();
  const currentVersion = new Map<string, string | null>();
  for (const r of rows) {
    let k = keys.get(r.connectionId);
    if (!k) {
      const status = r.status === "connected" || r.status === "retiring" ? r.status : "replaced";
      k = { connectionId: r.connectionId, provider: r.provider, keyRef: r.keyRef, status, deks: 0, versions: [], safeToRevoke: false };
      keys.set(r.connectionId, k);
      currentVersion.set(r.connectionId, r.currentVersion);
    }
    k.deks += r.deks;
    const current = k.status === "connected" && r.keyVersion !== null && r.keyVersion === r.currentVersion;
    k.versions.push({ version: r.keyVersion, deks: r.deks, current, safeToDisable: r.deks === 0 && !current });
  }
  for (const k of keys.values()) k.safeToRevoke = k.status !== "connected" && k.deks === 0;
  const open = await store.open(tenant.id);
  const job = open ?? (await store.latest(tenant.id));
  const list = [...keys.values()];
  return {
    tenant: tenant.slug,
    totalDeks: list.reduce((n, k) => n + k.deks, 0),
    staleDeks: await countStale(db, tenant.id),
    keys: list,
    job: job ? describeJob(job) : null,
  };
}
