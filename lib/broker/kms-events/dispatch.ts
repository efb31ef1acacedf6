// Turns a verified key-change event into immediate probes of the tenants whose connected key it
// names. An event is only a hint: the probe (a real call with the data path's permission) decides
// whether anything is locked or resumed, so a misleading event costs one KMS call, never a lock.
import type { BrokerContext } from "../context";
import type { KmsProviderName } from "../../kms/types";
import { Counter } from "prom-client";

/** How an event names keys: a full reference, or a prefix/suffix of the stored key_ref (compared case-insensitively). */
export interface KeyMatch {
  kind: "exact" | "prefix" | "suffix";
  value: string;
}

export interface KeyEventHint {
  provider: KmsProviderName;
  /** Provider's event or API name (DisableKey, Microsoft.KeyVault.KeyExpired, DestroyCryptoKeyVersion). */
  event: string;
  matches: KeyMatch[];
  /** When the change happened per the event; becomes revokedAt (time-to-lock) if the probe finds the key revoked. */
  eventTime?: Date;
  /** Provider's message id, to drop redeliveries. */
  id?: string;
}

export interface DispatchResult {
  tenants: number;
  duplicate: boolean;
}


const SEEN_MAX = 10_000;
/** Event clocks are not ours: a time in the future or long past is not a usable revocation moment. */
const MAX_EVENT_AGE_MS = 24 * 3600_000;

/** Only what dispatching uses: the database to find the keys' tenants, the prober, metrics and error reporting. */
export type KmsEventDeps = Pick<BrokerContext, "db" | "metrics" | "backgroundErrors"> & { prober: Pick<BrokerContext["prober"], "probeNow"> };

export class KmsEventDispatcher {
  private seen = new Set<string>();
  private readonly events: Counter<"provider" | "outcome">;

  constructor(private readonly broker: KmsEventDeps) {
    const existing = broker.metrics.registry.getSingleMetric("cmek_kms_events_total") as Counter<"provider" | "outcome"> | undefined;
    this.events =
      existing ??
      new Counter({
        name: "cmek_kms_events_total",
        help: "Pushed KMS key-change events by provider and outcome (matched, unmatched, ignored, duplicate, rejected)",
        labelNames: ["provider", "outcome"],
        registers: [broker.metrics.registry],
      });
  }

  count(provider: KmsProviderName, outcome: "matched" | "unmatched" | "ignored" | "duplicate" | "rejected"): void {
    this.events.inc({ provider, outcome });
  }

  /** Finds the affected tenants and starts a probe for each; does not wait for the probes. */
  async dispatch(hint: KeyEventHint): Promise<DispatchResult> {
    if (hint.id) {
      const key = `${hint.provider}:${hint.id}`;
      if (this.seen.has(key)) {
        this.count(hint.provider, "duplicate");
        return { tenants: 0, duplicate: true };
      }
      this.seen.add(key);
      if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.values().next().value!);
    }
    const keys = await this.affectedKeys(hint.provider, hint.matches);
    const tenants = [...new Set(keys.map((k) => k.tenantId))];
    this.count(hint.provider, tenants.length ? "matched" : "unmatched");
    const revokedAt = usableEventTime(hint.eventTime);
    // The default class's primary is probed as before (the tenant's key); any other key by its connection.
    for (const k of keys) this.probe(k.tenantId, revokedAt, k.dataClassId === null && k.role === "primary" ? undefined : k.connectionId);
    return { tenants: tenants.length, duplicate: false };
  }

  async affectedTenants(provider: KmsProviderName, matches: KeyMatch[]): Promise<string[]> {
    return [...new Set((await this.affectedKeys(provider, matches)).map((k) => k.tenantId))];
  }

  /** The connected keys (of any data class) an event's key matches name. */
  async affectedKeys(provider: KmsProviderName, matches: KeyMatch[]): Promise<Array<{ tenantId: string; connectionId: string; dataClassId: string | null; role: string }>> {
    const exact = [...new Set(matches.filter((m) => m.kind === "exact").map((m) => m.value.toLowerCase()))];
    const patterns = [
      ...new Set(
        matches
          .filter((m) => m.kind !== "exact" && m.value.length >= 3)
          .map((m) => (m.kind === "prefix" ? `${escapeLike(m.value.toLowerCase())}%` : `%${escapeLike(m.value.toLowerCase())}`)),
      ),
    ];
    if (exact.length === 0 && patterns.length === 0) return [];
    const rows = await this.broker.db.query<{ tenant_id: string; id: string; data_class_id: string | null; role: string }>(
      `SELECT tenant_id, id, data_class_id, role FROM key_connection
        WHERE status = 'connected' AND provider = $1::"KmsProviderName"
          AND (lower(key_ref) = ANY($2::text[]) OR lower(key_ref) LIKE ANY($3::text[]))`,
      [provider, exact, patterns],
    );
    return rows.map((r) => ({ tenantId: r.tenant_id, connectionId: r.id, dataClassId: r.data_class_id, role: r.role }));
  }

  /** The prober shares a running probe between concurrent requests, so a burst of events costs at most two KMS calls per key. */
  private probe(tenantId: string, revokedAt?: Date, connectionId?: string): void {
    // KMS answers are classified inside the probe; what can reach here is a database failure.
    this.broker.prober.probeNow(tenantId, { revokedAt, trigger: "push", ...(connectionId ? { connectionId } : {}) }).catch((e: unknown) => this.broker.backgroundErrors.report("kms_events.probe", e));
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function usableEventTime(t: Date | undefined): Date | undefined {
  if (!t || Number.isNaN(t.getTime())) return undefined;
  const now = Date.now();
  if (t.getTime() > now) return new Date(now);
  if (now - t.getTime() > MAX_EVENT_AGE_MS) return undefined;
  return t;
}

export function parseTime(v: unknown): Date | undefined {
  if (typeof v !== "string") return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
