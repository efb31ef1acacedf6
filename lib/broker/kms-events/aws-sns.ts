// AWS key-change events: EventBridge (CloudTrail "AWS API Call via CloudTrail" for kms.amazonaws.com,
// and KMS's own events) delivered through an SNS HTTPS subscription.
//
// Every message is verified before anything else happens: SNS signs a canonical string of the
// message's fields with a certificate it serves from sns.<region>.amazonaws.com. The certificate
// (and, for subscription confirmations, the SubscribeURL) is only ever fetched over HTTPS from a
// host that is SNS's own endpoint for the topic's region, or an exact host[:port] an operator put
// in BROKER_SNS_CERT_HOSTS; nothing in a message can make the broker call anywhere else (SSRF).
// Raw message delivery carries no signature and is refused: keep it off on the subscription.
import https from "node:https";
import { rootCertificates } from "node:tls";
import { readFileSync } from "node:fs";
import { X509Certificate, verify as verifySignature, type KeyObject } from "node:crypto";
import { BrokerError } from "../errors";
import { parseTime, type KeyEventHint, type KeyMatch } from "./dispatch";

export interface SnsMessage {
  Type: "Notification" | "SubscriptionConfirmation" | "UnsubscribeConfirmation";
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  SubscribeURL?: string;
  Token?: string;
}

export interface SnsVerifierOptions {
  /** Exact host or host:port entries trusted as SNS endpoints besides sns.<region>.amazonaws.com. */
  extraHosts: string[];
  /** PEM added to the public roots when fetching from SNS endpoints (a test or private CA). */
  caPem?: string;
  /** When non-empty, only these topics are accepted (and confirmed). */
  topicArns: string[];
  timeoutMs?: number;
}

/** The signing certificate could not be fetched: a transient failure, SNS should retry. */
export class SnsCertUnavailableError extends Error {
  override readonly name = "SnsCertUnavailableError";
}

const TYPES = new Set(["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]);
const TOPIC_ARN_RE = /^arn:aws(?:-[a-z]+)*:sns:([a-z0-9-]+):(\d{12}):[A-Za-z0-9_.-]{1,256}$/;
const CERT_CACHE_MAX = 32;
const MAX_FETCH_BYTES = 64 * 1024;

export function parseSnsMessage(body: unknown): SnsMessage {
  let obj: unknown = body;
  if (typeof body === "string" || Buffer.isBuffer(body)) {
    try {
      obj = JSON.parse(body.toString());
    } catch {
      throw new BrokerError("invalid_request", "SNS message is not JSON");
    }
  }
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new BrokerError("invalid_request", "SNS message must be a JSON object");
  const m = obj as Record<string, unknown>;
  if (typeof m.Type !== "string" || !TYPES.has(m.Type)) throw new BrokerError("invalid_request", "not an SNS message (Type)");
  if (typeof m.Signature !== "string" || typeof m.SigningCertURL !== "string" || typeof m.SignatureVersion !== "string") {
    throw new BrokerError("unauthenticated", "SNS message is not signed (raw message delivery must be off)");
  }
  for (const f of ["MessageId", "TopicArn", "Message", "Timestamp"] as const) {
    if (typeof m[f] !== "string") throw new BrokerError("invalid_request", `SNS message lacks ${f}`);
  }
  if (m.Subject !== undefined && m.Subject !== null && typeof m.Subject !== "string") throw new BrokerError("invalid_request", "SNS Subject must be a string");
  if (m.Type !== "Notification") {
    if (typeof m.SubscribeURL !== "string" || typeof m.Token !== "string") throw new BrokerError("invalid_request", "SNS confirmation lacks SubscribeURL or Token");
  }
  return m as unknown as SnsMessage;
}

/** The string SNS signs: "Name\nValue\n" for each field, in this order, per message type. */
export function snsCanonicalString(m: SnsMessage): string {
  const fields =
    m.Type === "Notification"
      ? (["Message", "MessageId", ...(typeof m.Subject === "string" ? (["Subject"] as const) : []), "Timestamp", "TopicArn", "Type"] as const)
      : (["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"] as const);
  return fields.map((f) => `${f}\n${m[f] ?? ""}\n`).join("");
}

export class SnsVerifier {
  private certs = new Map<string, Promise<KeyObject>>();
  private readonly ca: string[] | undefined;
  private readonly extraHosts: Set<string>;
  private readonly topics: Set<string>;
  private readonly timeoutMs: number;

  constructor(opts: SnsVerifierOptions) {
    this.extraHosts = new Set(opts.extraHosts.map((h) => h.trim().toLowerCase()).filter(Boolean));
    this.topics = new Set(opts.topicArns.map((t) => t.trim()).filter(Boolean));
    this.ca = opts.caPem ? [...rootCertificates, opts.caPem] : undefined;
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  static fromConfig(cfg: { BROKER_SNS_CERT_HOSTS: string[]; BROKER_SNS_CA_FILE?: string; BROKER_SNS_TOPIC_ARNS: string[] }): SnsVerifier {
    let caPem: string | undefined;
    if (cfg.BROKER_SNS_CA_FILE) {
      try {
        caPem = readFileSync(cfg.BROKER_SNS_CA_FILE, "utf8");
      } catch (e) {
        throw new Error(`BROKER_SNS_CA_FILE: cannot read ${cfg.BROKER_SNS_CA_FILE} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
      }
    }
    return new SnsVerifier({
      extraHosts: cfg.BROKER_SNS_CERT_HOSTS,
      caPem,
      topicArns: cfg.BROKER_SNS_TOPIC_ARNS,
    });
  }

  /** SNS's own endpoint for the topic's region, or an operator-listed host; always https, no credentials in the URL. */
  trustedUrl(raw: string, topicRegion: string): URL | null {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return null;
    }
    if (u.protocol !== "https:" || u.username || u.password) return null;
    const host = u.host.toLowerCase();
    const suffix = topicRegion.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
    if (host === `sns.${topicRegion}.${suffix}`) return u;
    return this.extraHosts.has(host) ? u : null;
  }

  /** Throws 401/403 unless the message is signed by SNS for an accepted topic. */
  async verify(m: SnsMessage): Promise<void> {
    const arn = TOPIC_ARN_RE.exec(m.TopicArn);
    if (!arn) throw new BrokerError("forbidden", "SNS TopicArn is not a topic ARN");
    if (this.topics.size > 0 && !this.topics.has(m.TopicArn)) throw new BrokerError("forbidden", "SNS topic is not in BROKER_SNS_TOPIC_ARNS");
    const algorithm = m.SignatureVersion === "1" ? "sha1" : m.SignatureVersion === "2" ? "sha256" : null;
    if (!algorithm) throw new BrokerError("forbidden", `unsupported SNS SignatureVersion ${JSON.stringify(m.SignatureVersion).slice(0, 10)}`);
    const certUrl = this.trustedUrl(m.SigningCertURL, arn[1]!);
    if (!certUrl || !certUrl.pathname.endsWith(".pem")) throw new BrokerError("forbidden", "SNS SigningCertURL is not an SNS endpoint for the topic's region");
    const key = await this.signingKey(certUrl);
    const signature = Buffer.from(m.Signature, "base64");
    let ok: boolean;
    try {
      ok = signature.length > 0 && verifySignature(algorithm, Buffer.from(snsCanonicalString(m), "utf8"), key, signature);
    } catch {
      ok = false;
    }
    if (!ok) throw new BrokerError("forbidden", "SNS signature does not verify");
  }

  /** Confirms a (verified) subscription by fetching its SubscribeURL, from a trusted SNS host only. */
  async confirmSubscription(m: SnsMessage): Promise<void> {
    const region = TOPIC_ARN_RE.exec(m.TopicArn)?.[1];
    const url = region && m.SubscribeURL ? this.trustedUrl(m.SubscribeURL, region) : null;
    if (!url) throw new BrokerError("forbidden", "SNS SubscribeURL is not an SNS endpoint for the topic's region");
    const res = await this.get(url);
    if (res.status !== 200) throw new SnsCertUnavailableError(`SNS subscription confirmation answered HTTP ${res.status}`);
  }

  private signingKey(url: URL): Promise<KeyObject> {
    const href = url.href;
    let p = this.certs.get(href);
    if (!p) {
      p = this.get(url).then((res) => {
        if (res.status !== 200) throw new SnsCertUnavailableError(`signing certificate: HTTP ${res.status}`);
        let cert: X509Certificate;
        try {
          cert = new X509Certificate(res.body);
        } catch {
          throw new BrokerError("forbidden", "SNS signing certificate is not an X.509 certificate");
        }
        const now = Date.now();
        if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) throw new BrokerError("forbidden", "SNS signing certificate is not valid now");
        return cert.publicKey;
      });
      // Failures are not cached: the next message retries the fetch.
      p.catch(() => this.certs.delete(href));
      this.certs.set(href, p);
      if (this.certs.size > CERT_CACHE_MAX) this.certs.delete(this.certs.keys().next().value!);
    }
    return p;
  }

  private get(url: URL): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = https.get(url, { ca: this.ca, timeout: this.timeoutMs, headers: { accept: "*/*" } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_FETCH_BYTES) req.destroy(new Error("response too large"));
          else chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", (e) => reject(new SnsCertUnavailableError(`${url.host}: ${e.message}`)));
    });
  }
}

// ---------------------------------------------------------------- EventBridge KMS events

/**
 * Management calls that can take a key away, give it back or rotate it. Data-plane calls (Decrypt,
 * Encrypt, GenerateDataKey) are not here: they never change access, and the broker's own calls
 * would otherwise come back as events and trigger probes of themselves.
 */
export const AWS_KEY_EVENTS = new Set([
  "DisableKey",
  "EnableKey",
  "ScheduleKeyDeletion",
  "CancelKeyDeletion",
  "DeleteImportedKeyMaterial",
  "ImportKeyMaterial",
  "PutKeyPolicy",
  "CreateGrant",
  "RevokeGrant",
  "RetireGrant",
  "CreateAlias",
  "UpdateAlias",
  "DeleteAlias",
  "UpdatePrimaryRegion",
  "DeleteKey",
  "RotateKeyOnDemand",
]);
/** KMS's own EventBridge events (no CloudTrail): the key's ARN is in `resources`. */
const AWS_NATIVE_EVENTS = new Set(["KMS CMK Deletion", "KMS Imported Key Material Expiration", "KMS CMK Rotation"]);

const KEY_ARN_RE = /^arn:aws(?:-[a-z]+)*:kms:([a-z0-9-]+):(\d{12}):key\/([A-Za-z0-9-]+)$/;
const ALIAS_ARN_RE = /^arn:aws(?:-[a-z]+)*:kms:([a-z0-9-]+):(\d{12}):alias\/(.+)$/;
const KEY_ID_RE = /^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** What the broker might have stored for a key named by an event (key ARN or alias ARN). */
function awsMatches(ref: unknown, account?: string, region?: string): KeyMatch[] {
  if (typeof ref !== "string" || ref.length > 2048) return [];
  let m = KEY_ARN_RE.exec(ref);
  if (m) return [{ kind: "suffix", value: `:${m[2]}:key/${m[3]}` }, ...aliasesOf(m[2], m[1])];
  m = ALIAS_ARN_RE.exec(ref);
  if (m) return [{ kind: "exact", value: ref }];
  if (ref.startsWith("alias/") && account && region) return [{ kind: "exact", value: `arn:aws:kms:${region}:${account}:alias/${ref.slice(6)}` }];
  if (KEY_ID_RE.test(ref)) return [{ kind: "suffix", value: `:key/${ref}` }, ...aliasesOf(account, region)];
  return [];
}

/**
 * A tenant that registered an alias ARN is affected by changes to the key behind it, which the
 * event does not tell us; aliases in the same account and region are probed too (hints are cheap).
 */
function aliasesOf(account?: string, region?: string): KeyMatch[] {
  return account && region ? [{ kind: "prefix", value: `arn:aws:kms:${region}:${account}:alias/` }] : [];
}

/** An EventBridge event about a KMS key, as a hint; null when it is not one we act on. */
export function hintFromEventBridge(event: unknown, messageId?: string): KeyEventHint | null {
  if (!event || typeof event !== "object") return null;
  const e = event as Record<string, unknown>;
  if (e.source !== "aws.kms") return null;
  const detail = (e.detail && typeof e.detail === "object" ? e.detail : {}) as Record<string, unknown>;
  const detailType = typeof e["detail-type"] === "string" ? e["detail-type"] : "";
  const account = typeof e.account === "string" ? e.account : undefined;
  const region = typeof e.region === "string" ? e.region : undefined;
  let name: string;
  if (detailType === "AWS API Call via CloudTrail") {
    if (typeof detail.eventName !== "string" || !AWS_KEY_EVENTS.has(detail.eventName)) return null;
    // A refused call changed nothing.
    if (detail.errorCode) return null;
    name = detail.eventName;
  } else if (AWS_NATIVE_EVENTS.has(detailType)) {
    name = detailType;
  } else {
    return null;
  }
  const refs: unknown[] = [];
  if (Array.isArray(e.resources)) refs.push(...(e.resources as unknown[]));
  if (Array.isArray(detail.resources)) refs.push(...detail.resources.map((r) => (r && typeof r === "object" ? (r as Record<string, unknown>).ARN : undefined)));
  const params = (detail.requestParameters && typeof detail.requestParameters === "object" ? detail.requestParameters : {}) as Record<string, unknown>;
  refs.push(params.keyId, params.targetKeyId, params.aliasName, detail["key-id"]);
  const matches = refs.flatMap((r) => awsMatches(r, account, region));
  if (matches.length === 0) return null;
  return {
    provider: "aws",
    event: name,
    matches,
    eventTime: parseTime(detail.eventTime) ?? parseTime(e.time),
    id: messageId ?? (typeof e.id === "string" ? e.id : undefined),
  };
}

/** The key hint in a verified SNS Notification, whose Message is the EventBridge event. */
export function hintFromSnsNotification(m: SnsMessage): KeyEventHint | null {
  let event: unknown;
  try {
    event = JSON.parse(m.Message);
  } catch {
    return null;
  }
  return hintFromEventBridge(event, m.MessageId);
}
