// Google Cloud KMS changes, as Cloud Audit Logs entries routed by a log sink to a Pub/Sub topic
// and pushed to the broker: {message: {data: base64(LogEntry JSON), attributes, messageId}, subscription}.
// The push endpoint URL carries a shared secret (?token=, BROKER_PUBSUB_TOKEN). Verifying the
// push's OIDC token instead needs Google's signing keys, which an offline install cannot
// fetch; that is the stronger option for later.
import { BrokerError } from "../errors";
import { parseTime, type KeyEventHint, type KeyMatch } from "./dispatch";

/**
 * Admin Activity methods that can take a key away or give it back, or rotate it. Data Access entries
 * (Encrypt, Decrypt) are ignored, so the broker's own calls never trigger probes.
 */
export const GCP_KEY_METHODS = new Set([
  "UpdateCryptoKeyVersion",
  "DestroyCryptoKeyVersion",
  "RestoreCryptoKeyVersion",
  "UpdateCryptoKey",
  "UpdateCryptoKeyPrimaryVersion",
  "CreateCryptoKeyVersion",
  "ImportCryptoKeyVersion",
  "SetIamPolicy",
]);

export interface PubSubParse {
  hint: KeyEventHint | null;
  messageId?: string;
}

export function parsePubSubPush(body: unknown): PubSubParse {
  if (!body || typeof body !== "object") throw new BrokerError("invalid_request", "expected a Pub/Sub push body");
  const message = (body as Record<string, unknown>).message;
  if (!message || typeof message !== "object") throw new BrokerError("invalid_request", "Pub/Sub push body has no message");
  const m = message as Record<string, unknown>;
  const messageId = typeof m.messageId === "string" ? m.messageId : typeof m.message_id === "string" ? m.message_id : undefined;
  if (typeof m.data !== "string" || m.data.length === 0) return { hint: null, messageId };
  let entry: unknown;
  try {
    entry = JSON.parse(Buffer.from(m.data, "base64").toString("utf8"));
  } catch {
    throw new BrokerError("invalid_request", "Pub/Sub message data is not base64 of a JSON LogEntry");
  }
  return { hint: hintFromAuditLogEntry(entry, messageId), messageId };
}

export function hintFromAuditLogEntry(entry: unknown, messageId?: string): KeyEventHint | null {
  if (!entry || typeof entry !== "object") return null;
  const e = entry as Record<string, unknown>;
  const p = (e.protoPayload && typeof e.protoPayload === "object" ? e.protoPayload : null) as Record<string, unknown> | null;
  if (!p || typeof p.methodName !== "string") return null;
  // "google.cloud.kms.v1.KeyManagementService.UpdateCryptoKeyVersion" or just the last part.
  const method = p.methodName.split(".").pop()!;
  if (!GCP_KEY_METHODS.has(method)) return null;
  const status = p.status as { code?: unknown } | undefined;
  if (status && typeof status.code === "number" && status.code !== 0) return null;
  const resource = resourcePath(p.resourceName) ?? resourceFromLabels(e.resource);
  if (!resource) return null;
  return {
    provider: "gcp",
    event: method,
    matches: gcpMatches(resource),
    eventTime: parseTime(e.timestamp) ?? parseTime(e.receiveTimestamp),
    id: messageId ?? (typeof e.insertId === "string" ? e.insertId : undefined),
  };
}

function resourcePath(v: unknown): string | null {
  if (typeof v !== "string" || v.length > 1000) return null;
  const path = v.replace(/^\/\/[a-z0-9.-]+\//, "");
  return /^projects\/[^/]+(\/[^/]+\/[^/]+)*$/.test(path) ? path : null;
}

function resourceFromLabels(r: unknown): string | null {
  const labels = (r as { labels?: Record<string, unknown> } | undefined)?.labels;
  if (!labels) return null;
  const { project_id: p, location: l, key_ring_id: kr, crypto_key_id: k } = labels;
  if (typeof p !== "string" || typeof l !== "string" || typeof kr !== "string") return null;
  return `projects/${p}/locations/${l}/keyRings/${kr}${typeof k === "string" ? `/cryptoKeys/${k}` : ""}`;
}

/**
 * A version names its key; a key ring or project (IAM set on a parent) names every key below
 * it. Stored references are projects/p/locations/l/keyRings/r/cryptoKeys/k.
 */
function gcpMatches(resource: string): KeyMatch[] {
  const parts = resource.split("/");
  const matches: KeyMatch[] = [{ kind: "exact", value: resource }];
  if (parts.length > 8) matches.push({ kind: "exact", value: parts.slice(0, 8).join("/") });
  if (parts.length < 8) matches.push({ kind: "prefix", value: `${resource}/` });
  return matches;
}
