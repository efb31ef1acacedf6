// Azure Key Vault events delivered by Event Grid to a webhook, in the Event Grid schema (an array
// of events; the first delivery is a SubscriptionValidationEvent to echo back) or the CloudEvents
// 1.0 schema (one event or a batch). Event Grid cannot sign deliveries to a plain webhook, so
// the subscription carries a shared secret (BROKER_EVENTGRID_SECRET) as a delivery header or in
// the endpoint URL; Entra ID-protected delivery would be the stronger option (future).
import { BrokerError } from "../errors";
import { parseTime, type KeyEventHint, type KeyMatch } from "./dispatch";

export const EVENTGRID_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent";

export type EventGridParse =
  | { kind: "validation"; validationCode: string }
  | { kind: "events"; hints: KeyEventHint[]; ignored: number };

interface GridEvent {
  id?: unknown;
  type: string;
  subject?: unknown;
  time?: unknown;
  data: Record<string, unknown>;
}

/** Accepts both schemas; a key event is any Microsoft.KeyVault.* event naming a key or a vault. */
export function parseEventGrid(body: unknown): EventGridParse {
  const list = Array.isArray(body) ? body : body && typeof body === "object" ? [body] : null;
  if (!list || list.length === 0 || list.length > 5000) throw new BrokerError("invalid_request", "expected an Event Grid event array or a CloudEvent");
  const events: GridEvent[] = list.map((raw) => {
    if (!raw || typeof raw !== "object") throw new BrokerError("invalid_request", "each event must be an object");
    const e = raw as Record<string, unknown>;
    // Event Grid schema: eventType/eventTime; CloudEvents: type/time/specversion.
    const type = typeof e.eventType === "string" ? e.eventType : typeof e.type === "string" ? e.type : null;
    if (!type) throw new BrokerError("invalid_request", "event has no eventType (Event Grid) or type (CloudEvents)");
    const data = e.data && typeof e.data === "object" && !Array.isArray(e.data) ? (e.data as Record<string, unknown>) : {};
    return { id: e.id, type, subject: e.subject, time: e.eventTime ?? e.time, data };
  });
  const validation = events.find((e) => e.type === EVENTGRID_VALIDATION);
  if (validation) {
    const code = validation.data.validationCode;
    if (typeof code !== "string" || code.length === 0 || code.length > 256) throw new BrokerError("invalid_request", "validation event has no validationCode");
    return { kind: "validation", validationCode: code };
  }
  const hints: KeyEventHint[] = [];
  let ignored = 0;
  for (const e of events) {
    const hint = hintFromKeyVaultEvent(e);
    if (hint) hints.push(hint);
    else ignored++;
  }
  return { kind: "events", hints, ignored };
}

function hintFromKeyVaultEvent(e: GridEvent): KeyEventHint | null {
  if (!e.type.startsWith("Microsoft.KeyVault.")) return null;
  const objectType = typeof e.data.ObjectType === "string" ? e.data.ObjectType : typeof e.data.objectType === "string" ? e.data.objectType : "";
  if (/^(secret|certificate)$/i.test(objectType)) return null;
  const matches: KeyMatch[] = [];
  for (const candidate of [e.data.Id, e.data.id, e.subject]) matches.push(...keyVaultMatches(candidate));
  // Vault-wide changes (access policy) name the vault, not a key: every key in it is affected.
  const vaultName = e.data.VaultName ?? e.data.vaultName;
  if (matches.length === 0 && /^VaultAccessPolicyChanged$/.test(e.type.slice("Microsoft.KeyVault.".length)) && typeof vaultName === "string" && /^[A-Za-z0-9-]{3,24}$/.test(vaultName)) {
    matches.push({ kind: "prefix", value: `https://${vaultName}.vault.azure.net/` });
  }
  if (matches.length === 0) return null;
  return { provider: "azure", event: e.type, matches, eventTime: parseTime(e.time), id: typeof e.id === "string" ? e.id.slice(0, 200) : undefined };
}

/** A key URI (https://vault/keys/name[/version]) matches the stored versionless or versioned URI; a vault URL matches all its keys. */
function keyVaultMatches(v: unknown): KeyMatch[] {
  if (typeof v !== "string" || !v.startsWith("https://")) return [];
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return [];
  }
  const base = `https://${u.host.toLowerCase()}`;
  const parts = u.pathname.split("/").filter(Boolean);
  if (parts.length === 0) return [{ kind: "prefix", value: `${base}/` }];
  if (parts[0] !== "keys" || !parts[1]) return [];
  const key = `${base}/keys/${parts[1]}`;
  return [
    { kind: "exact", value: key },
    { kind: "prefix", value: `${key}/` },
  ];
}
