// The published contract is the real one: every operation in /api/v1/openapi.json is called
// with real requests (a success and a representative error), against the real PostgreSQL and
// the KMS emulators, and each answer is validated against the schema the document gives for its
// status and media type. The document itself declares every JSON answer down to its leaves: no
// object without declared properties, no free-form map, no schema that accepts anything.
import { createSign, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import selfsigned from "selfsigned";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Json } from "@/testkit/api-client";
import { ADMIN_TOKEN, startHarness, type Harness } from "../support/broker-harness";
import { startConsoleInstance, type ConsoleInstance } from "../support/console-instance";
import { fromBase32, totpCode, TOTP_STEP_MS } from "@/lib/auth/factors/totp";
import { SoftAuthenticator } from "../support/soft-authenticator";
import { countOpaque, OpenApiValidator, type Answer, type OpenApiDoc } from "../support/openapi-validator";

const EVENTGRID_SECRET = "eventgrid-secret-for-contract-test";
const PUBSUB_TOKEN = "pubsub-token-for-contract-test";
const TOPIC = "arn:aws:sns:us-east-1:222222222222:cmek-key-events";
// Webhook receivers in this test live on loopback, which the broker refuses outside the demo.
process.env.BROKER_WEBHOOK_ALLOW_PRIVATE = "on";

let h: Harness;
let doc: OpenApiDoc;
let validator: OpenApiValidator;
let tmp: string;
let snsServer: https.Server;
let snsHost: string;
let snsKey: string;
let receiver: http.Server;
let receiverUrl: string;
/** Accepts console sessions: break-glass is a tenant console admin's action. */
let consoleInstance: ConsoleInstance;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), "cmek-contracts-"));
  // A stand-in for sns.<region>.amazonaws.com, trusted through BROKER_SNS_CA_FILE.
  const san = [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }];
  const pems = await selfsigned.generate([{ name: "commonName", value: "sns.test" }], { keySize: 2048, algorithm: "sha256", extensions: san as never });
  snsKey = pems.private;
  snsServer = https.createServer({ key: pems.private, cert: pems.cert }, (_req, res) => res.writeHead(200, { "content-type": "application/x-pem-file" }).end(pems.cert));
  await new Promise<void>((r) => snsServer.listen(0, "127.0.0.1", r));
  snsHost = `127.0.0.1:${(snsServer.address() as AddressInfo).port}`;
  writeFileSync(path.join(tmp, "sns-ca.pem"), pems.cert);
  receiver = http.createServer((req, res) => req.resume().on("end", () => res.writeHead(200).end()));
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  h = await startHarness({
    BROKER_PROBE_INTERVAL_MS: "600000",
    BROKER_EVENTGRID_SECRET: EVENTGRID_SECRET,
    BROKER_PUBSUB_TOKEN: PUBSUB_TOKEN,
    BROKER_SNS_CERT_HOSTS: snsHost,
    BROKER_SNS_CA_FILE: path.join(tmp, "sns-ca.pem"),
    // The webhook receiver lives on loopback, which the broker refuses outside the demo.
    BROKER_WEBHOOK_ALLOW_PRIVATE: "on",
  });
  consoleInstance = await startConsoleInstance(h, { instanceId: "contracts-console" });
  const r = await fetch(`${h.runtime.url}/api/v1/openapi.json`);
  expect(r.status).toBe(200);
  doc = (await r.json()) as OpenApiDoc;
  validator = new OpenApiValidator(doc);
});

afterAll(async () => {
  await consoleInstance?.rt.close();
  await h?.close();
  snsServer?.close();
  receiver?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

interface Call {
  method: string;
  path: string;
  token?: string | null;
  body?: unknown;
  rawBody?: string;
  binary?: Buffer;
  headers?: Record<string, string>;
  /** A console session cookie: sent to the console instance instead of a token. */
  cookie?: string;
}

async function send(c: Call): Promise<Answer> {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  const token = c.cookie ? null : c.token === undefined ? ADMIN_TOKEN : c.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (c.cookie) Object.assign(headers, consoleInstance.headers(c.cookie));
  let body: string | Blob | undefined = c.binary ? new Blob([new Uint8Array(c.binary)]) : c.rawBody;
  if (body === undefined && c.body !== undefined) body = JSON.stringify(c.body);
  if (body !== undefined && !headers["content-type"]) headers["content-type"] = "application/json";
  const res = await fetch((c.cookie ? consoleInstance.rt.url : h.runtime.url) + c.path, { method: c.method, headers, body });
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

function signSns(m: Record<string, string>): Record<string, string> {
  const fields = m.Type === "Notification" ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"] : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  const signer = createSign("RSA-SHA256");
  signer.update(fields.filter((f) => m[f] !== undefined).map((f) => `${f}\n${m[f]}\n`).join(""));
  return { ...m, SignatureVersion: "2", Signature: signer.sign(snsKey, "base64"), SigningCertURL: `https://${snsHost}/SimpleNotificationService-test.pem` };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Reads a Server-Sent Events stream until `until` returns true for the buffered text. */
async function readSse(url: string, onConnected: () => Promise<void>, until: (text: string) => boolean): Promise<{ status: number; contentType: string | null; text: string }> {
  const ctrl = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: ctrl.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let triggered = false;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !until(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (!triggered && text.includes(": connected")) {
      triggered = true;
      await onConnected();
    }
  }
  ctrl.abort();
  return { status: res.status, contentType: res.headers.get("content-type"), text };
}

// ---------------------------------------------------------------- the document

describe("the published document", () => {
  test("declares every response body down to its leaves: 0 opaque schemas in success and error answers", () => {
    const found = countOpaque(doc);
    console.log(`JSON success answers with a schema: ${found.successResponses}; opaque: ${found.opaque.length}`);
    expect(found.successResponses, "JSON success answers with a schema").toBeGreaterThanOrEqual(33);
    expect(found.opaque, `opaque schemas:\n${found.opaque.join("\n")}`).toEqual([]);
  });

  test("every JSON success answer has a schema, except the document itself; no $ref is left dangling", () => {
    const undeclared: string[] = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, r] of Object.entries(op.responses)) {
          const json = r.content?.["application/json"];
          if (json && !json.schema && !(method === "get" && p === "/api/v1/openapi.json")) undeclared.push(`${method.toUpperCase()} ${p} ${status}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
    expect(JSON.stringify(doc)).not.toContain('"$ref"');
  });
});

// ---------------------------------------------------------------- every route, for real

describe("real answers validate against the document", () => {
  test("every operation: a success and a representative error, each matching the schema for its status", async () => {
    const check = async (c: Call, expected: number) => {
      const a = await send(c);
      expect(a.status, `${c.method} ${c.path}: ${a.text.slice(0, 500)}`).toBe(expected);
      validator.check(c.method, c.path, a);
      return a.text && a.contentType?.startsWith("application/json") ? (JSON.parse(a.text) as Record<string, Json>) : null;
    };
    const slug = "contracts";
    const t = `/api/v1/tenants/${slug}`;

    // system
    await check({ method: "GET", path: "/api/health", token: null }, 200);
    await check({ method: "GET", path: "/api/metrics", token: null }, 200);
    await check({ method: "GET", path: "/api/v1/openapi.json", token: null }, 200);
    await check({ method: "GET", path: "/api/v1/audit/public-key", token: null }, 200);

    // tenants, keys, tokens
    await check({ method: "POST", path: "/api/v1/tenants", body: { slug, name: "Contracts" } }, 201);
    await check({ method: "POST", path: "/api/v1/tenants", body: { slug, name: "Again" } }, 409);
    await check({ method: "POST", path: "/api/v1/tenants", body: { slug: "Bad Slug!", name: "x" } }, 400);
    await check({ method: "POST", path: "/api/v1/tenants", rawBody: "slug=x", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415);
    await check({ method: "GET", path: t }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant" }, 404);
    const keyArn = (await h.aws.createKeyForVendor()).keyArn;
    await check({ method: "PUT", path: `${t}/key`, body: { provider: "aws", keyId: "not-an-arn" } }, 400);
    await check({ method: "PUT", path: `${t}/key`, body: { provider: "aws", keyId: keyArn } }, 200);
    await check({ method: "POST", path: "/api/v1/tenants", body: { slug: "ungranted", name: "Ungranted" } }, 201);
    await check({ method: "PUT", path: "/api/v1/tenants/ungranted/key", body: { provider: "aws", keyId: await h.aws.createKey() } }, 422);
    const created = (await check({ method: "POST", path: `${t}/tokens`, body: { name: "svc" } }, 201))!;
    const token = created.token as string;
    await check({ method: "POST", path: `${t}/tokens`, body: { name: "" } }, 400);
    await check({ method: "GET", path: `${t}/tokens` }, 200);
    await check({ method: "GET", path: `${t}/tokens`, token: null }, 401);
    const spare = (await check({ method: "POST", path: `${t}/tokens`, body: { name: "spare" } }, 201))!;
    await check({ method: "DELETE", path: `${t}/tokens/${spare.id}` }, 204);
    await check({ method: "DELETE", path: `${t}/tokens/not-a-uuid` }, 400);
    await check({ method: "PUT", path: `${t}/settings`, body: { manualResume: false } }, 200);
    await check({ method: "PUT", path: `${t}/settings`, body: { manualResume: "no" } }, 400);
    await check({ method: "GET", path: `${t}/status`, token }, 200);
    await check({ method: "GET", path: `${t}/status`, token: null }, 401);

    // data classes (issue 12)
    await check({ method: "POST", path: `${t}/classes`, body: { name: "pii" } }, 201);
    await check({ method: "POST", path: `${t}/classes`, body: { name: "Not A Name" } }, 400);
    await check({ method: "GET", path: `${t}/classes` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/classes" }, 404);
    await check({ method: "GET", path: `${t}/classes/pii` }, 200);
    await check({ method: "GET", path: `${t}/classes/nope` }, 404);
    await check({ method: "PUT", path: `${t}/classes/pii/key`, body: { provider: "aws", keyId: (await h.aws.createKeyForVendor()).keyArn } }, 200);
    await check({ method: "PUT", path: `${t}/classes/pii/key`, body: { provider: "aws", keyId: await h.aws.createKey() } }, 422);
    await check({ method: "POST", path: `${t}/classes`, body: { name: "scratch" } }, 201);
    await check({ method: "DELETE", path: `${t}/classes/scratch` }, 204);
    await check({ method: "DELETE", path: `${t}/classes/default` }, 409);

    // data path
    const enc = (await check({ method: "POST", path: `${t}/encrypt`, token, body: { plaintext: b64("contract"), context: { row: "1" }, purpose: "contract-test" } }, 200))!;
    await check({ method: "POST", path: `${t}/encrypt`, token: null, body: { plaintext: b64("x") } }, 401);
    await check({ method: "POST", path: `${t}/decrypt`, token, body: { ciphertext: enc.ciphertext, context: { row: "1" } } }, 200);
    await check({ method: "POST", path: `${t}/decrypt`, token, body: { ciphertext: b64("junk") } }, 422);
    const batchEnc = (await check({ method: "POST", path: `${t}/encrypt/batch`, token, body: { items: [{ plaintext: b64("one"), purpose: "contract-test" }, { plaintext: "bad" }] } }, 200))!;
    await check({ method: "POST", path: `${t}/encrypt/batch`, token, body: { items: [] } }, 400);
    await check({ method: "POST", path: `${t}/decrypt/batch`, token, body: { items: [{ ciphertext: batchEnc.results[0].ciphertext }, { ciphertext: b64("junk") }] } }, 200);
    await check({ method: "POST", path: `${t}/decrypt/batch`, token: null, body: { items: [] } }, 401);
    const streamHeaders = { "content-type": "application/octet-stream", "x-cmek-context": Buffer.from(JSON.stringify({ row: "1" })).toString("base64url") };
    await check({ method: "POST", path: `${t}/encrypt/stream`, token, rawBody: "contract stream", headers: streamHeaders }, 200);
    await check({ method: "POST", path: `${t}/encrypt/stream`, token, body: { plaintext: b64("x") } }, 415);
    const sealedStream = await fetch(`${h.runtime.url}${t}/encrypt/stream`, { method: "POST", headers: { ...streamHeaders, authorization: `Bearer ${token}` }, body: "contract stream" });
    const sealed = Buffer.from(await sealedStream.arrayBuffer());
    await check({ method: "POST", path: `${t}/decrypt/stream`, token, binary: sealed, headers: streamHeaders }, 200);
    await check({ method: "POST", path: `${t}/decrypt/stream`, token, rawBody: "junk", headers: streamHeaders }, 422);

    // governance (issue 13): purposes, policies, windows, break-glass, alerts
    const tokenId = created.id as string;
    const tok = `${t}/tokens/${tokenId}`;
    await check({ method: "GET", path: `${t}/purposes` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/purposes" }, 404);
    await check({ method: "PUT", path: `${t}/purposes/export_job`, body: { description: "Nightly export" } }, 200);
    await check({ method: "PUT", path: `${t}/purposes/vendor_support`, body: { description: "a standard code" } }, 409);
    await check({ method: "GET", path: `${tok}/purpose-policy` }, 200);
    await check({ method: "GET", path: `${t}/tokens/${randomUUID()}/purpose-policy` }, 404);
    await check({ method: "PUT", path: `${tok}/purpose-policy`, body: { allowedPurposes: ["customer_initiated_access", "export_job"], requirePurpose: true } }, 200);
    await check({ method: "PUT", path: `${tok}/purpose-policy`, body: { allowedPurposes: ["no_such_code"], requirePurpose: false } }, 400);
    await check({ method: "POST", path: `${t}/encrypt`, token, body: { plaintext: b64("x"), purpose: "vendor_support" } }, 403);
    await check({ method: "PUT", path: `${tok}/purpose-policy`, body: { allowedPurposes: null, requirePurpose: false } }, 200);
    await check({ method: "GET", path: `${tok}/access-windows` }, 200);
    await check({ method: "GET", path: `${t}/tokens/not-a-uuid/access-windows` }, 400);
    await check({ method: "PUT", path: `${tok}/access-windows`, body: { weekly: [] } }, 200);
    await check({ method: "POST", path: `${t}/decrypt`, token, body: { ciphertext: enc.ciphertext, context: { row: "1" } } }, 403);
    await check({ method: "PUT", path: `${tok}/access-windows`, body: { weekly: [{ days: [8], start: "09:00", end: "17:00" }] } }, 400);
    await check({ method: "PUT", path: `${t}/time-zone`, body: { timeZone: "Europe/Paris" } }, 200);
    await check({ method: "PUT", path: `${t}/time-zone`, body: { timeZone: "Mars/Olympus" } }, 400);
    const soon = Date.now() + 3_600_000;
    await check({ method: "POST", path: `${t}/maintenance-windows`, body: { startsAt: new Date(soon).toISOString(), endsAt: new Date(soon + 600_000).toISOString(), note: "upgrade" } }, 201);
    await check({ method: "POST", path: `${t}/maintenance-windows`, body: { startsAt: new Date(soon).toISOString(), endsAt: new Date(soon - 1).toISOString(), note: "backwards" } }, 400);
    await check({ method: "GET", path: `${t}/maintenance-windows` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/maintenance-windows" }, 404);
    const adminCookie = await consoleInstance.cookie(await consoleInstance.adminOf(slug));
    const grant = (await check({ method: "POST", path: `${t}/break-glass`, cookie: adminCookie, body: { tokenId, reason: "contract test exception", durationMinutes: 5 } }, 201))!;
    await check({ method: "POST", path: `${t}/break-glass`, body: { tokenId, reason: "the vendor may not grant this", durationMinutes: 5 } }, 403);
    await check({ method: "GET", path: `${t}/break-glass` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/break-glass" }, 404);
    await check({ method: "DELETE", path: `${t}/break-glass/${grant.id}` }, 200);
    await check({ method: "DELETE", path: `${t}/break-glass/not-a-uuid` }, 400);
    await check({ method: "PUT", path: `${tok}/access-windows`, body: { weekly: null } }, 200);
    await check({ method: "GET", path: `${t}/alerts?state=all` }, 200);
    await check({ method: "GET", path: `${t}/alerts?state=closed` }, 400);
    await check({ method: "GET", path: `${t}/alert-thresholds` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/alert-thresholds" }, 404);
    await check({ method: "PUT", path: `${t}/alert-thresholds`, body: { rateMultiple: 20 } }, 200);
    await check({ method: "PUT", path: `${t}/alert-thresholds`, body: { rateMultiple: 0 } }, 400);
    await check({ method: "GET", path: `${t}/audit/purposes?minutes=60` }, 200);
    await check({ method: "GET", path: `${t}/audit/purposes?minutes=0` }, 400);
    await check({ method: "GET", path: "/api/v1/fleet/alerts" }, 200);
    await check({ method: "GET", path: "/api/v1/fleet/alerts", token: null }, 401);

    // quorum and step-up (issue 13): tenant admins' console sessions
    const [second] = await h.runtime.db.query<{ id: string }>(
      `INSERT INTO console_user (id, email, role, tenant_id) SELECT gen_random_uuid(), $1, 'tenant_admin', id FROM tenant WHERE slug = $2 RETURNING id`,
      [`second-admin@${slug}.example`, slug],
    );
    const secondCookie = await consoleInstance.cookie(second!.id);
    await check({ method: "GET", path: `${t}/quorum` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/quorum" }, 404);
    await check({ method: "PUT", path: `${t}/quorum`, cookie: adminCookie, body: { actions: ["token.create"], requiredApprovals: 1, requireStepUp: false } }, 200);
    await check({ method: "PUT", path: `${t}/quorum`, cookie: adminCookie, body: { actions: ["token.create"], requiredApprovals: 0, requireStepUp: false } }, 400);
    const held = (await check({ method: "POST", path: `${t}/tokens`, cookie: adminCookie, body: { name: "held" } }, 202))!;
    const approvalId = held.approval.id as string;
    await check({ method: "POST", path: `${t}/tokens`, body: { name: "vendor" } }, 403);
    await check({ method: "GET", path: `${t}/approvals?status=pending` }, 200);
    await check({ method: "GET", path: `${t}/approvals?status=bogus` }, 400);
    await check({ method: "GET", path: `${t}/approvals/${approvalId}` }, 200);
    await check({ method: "GET", path: `${t}/approvals/not-a-uuid` }, 400);
    await check({ method: "POST", path: `${t}/approvals/${approvalId}/approve`, cookie: adminCookie }, 403);
    await check({ method: "POST", path: `${t}/approvals/${approvalId}/approve`, cookie: secondCookie }, 200);
    const withdrawn = (await check({ method: "POST", path: `${t}/tokens`, cookie: adminCookie, body: { name: "withdrawn" } }, 202))!;
    await check({ method: "POST", path: `${t}/approvals/${withdrawn.approval.id}/cancel`, cookie: adminCookie }, 200);
    await check({ method: "POST", path: `${t}/approvals/${withdrawn.approval.id}/cancel`, cookie: adminCookie }, 409);
    await check({ method: "PUT", path: `${t}/quorum`, cookie: adminCookie, body: { actions: [], requiredApprovals: 1, requireStepUp: false } }, 200);
    await check({ method: "GET", path: "/api/v1/me/factors", cookie: secondCookie }, 200);
    await check({ method: "GET", path: "/api/v1/me/factors" }, 403);
    const enrolment = (await check({ method: "POST", path: "/api/v1/me/factors/totp", cookie: secondCookie, body: { name: "phone" } }, 201))!;
    await check({ method: "POST", path: "/api/v1/me/factors/totp", cookie: secondCookie, body: { name: "" } }, 400);
    const seed = fromBase32(enrolment.secret as string);
    const step = Math.floor(Date.now() / TOTP_STEP_MS);
    await check({ method: "POST", path: `/api/v1/me/factors/${enrolment.factor.id}/verify`, cookie: secondCookie, body: { code: totpCode(seed, step - 1) } }, 200);
    await check({ method: "POST", path: `/api/v1/me/factors/${enrolment.factor.id}/verify`, cookie: secondCookie, body: { code: "12345" } }, 400);
    await check({ method: "POST", path: "/api/v1/me/step-up/challenge", cookie: secondCookie }, 200);
    await check({ method: "POST", path: "/api/v1/me/step-up/challenge" }, 403);
    await check({ method: "POST", path: "/api/v1/me/step-up", cookie: secondCookie, body: { kind: "totp", code: totpCode(seed, step) } }, 200);
    await check({ method: "POST", path: "/api/v1/me/step-up", cookie: secondCookie, body: { kind: "totp", code: totpCode(seed, step) } }, 401);
    const passkeyOptions = (await check({ method: "POST", path: "/api/v1/me/factors/passkey/options", cookie: secondCookie }, 200))!;
    await check({ method: "POST", path: "/api/v1/me/factors/passkey/options" }, 403);
    const authenticator = new SoftAuthenticator(consoleInstance.rt.url);
    const passkey = (await check({ method: "POST", path: "/api/v1/me/factors/passkey", cookie: secondCookie, body: { name: "laptop", credential: authenticator.create(passkeyOptions as never) } }, 201))!;
    await check({ method: "POST", path: "/api/v1/me/factors/passkey", cookie: secondCookie, body: { name: "laptop", credential: authenticator.create(passkeyOptions as never) } }, 401);
    await check({ method: "DELETE", path: `/api/v1/me/factors/${passkey.id}`, cookie: secondCookie }, 200);
    await check({ method: "DELETE", path: "/api/v1/me/factors/not-a-uuid", cookie: secondCookie }, 400);

    // console read models
    await check({ method: "GET", path: "/api/v1/me" }, 200);
    await check({ method: "GET", path: "/api/v1/me", token: null }, 401);
    await check({ method: "POST", path: "/api/v1/key-ref/validate", body: { provider: "aws", keyId: "nope" } }, 200);
    await check({ method: "POST", path: "/api/v1/key-ref/validate", token: null, body: { provider: "aws", keyId: keyArn } }, 401);
    await check({ method: "GET", path: `${t}/connect-info` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/connect-info" }, 404);
    await check({ method: "GET", path: `${t}/health` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/health" }, 404);
    await check({ method: "GET", path: "/api/v1/fleet?pageSize=5" }, 200);
    await check({ method: "GET", path: "/api/v1/fleet?page=0" }, 400);
    await check({ method: "GET", path: "/api/v1/fleet/kms-activity?minutes=5" }, 200);
    await check({ method: "GET", path: "/api/v1/fleet/kms-activity?minutes=0" }, 400);

    // a class's secondary key and its failover drill (issue 12)
    await check({ method: "PUT", path: `${t}/classes/default/secondary-key`, body: { provider: "gcp", keyId: await h.gcp.createKeyForVendor() } }, 200);
    await check({ method: "PUT", path: `${t}/classes/default/secondary-key`, body: { provider: "aws", keyId: "not-an-arn" } }, 400);
    await check({ method: "POST", path: `${t}/classes/default/failover-drill`, body: { seconds: 1 } }, 200);
    await check({ method: "POST", path: `${t}/classes/default/failover-drill`, body: { seconds: 0 } }, 400);
    await check({ method: "DELETE", path: `${t}/classes/default/secondary-key` }, 200);
    await check({ method: "DELETE", path: `${t}/classes/default/secondary-key` }, 404);

    // locks and the drill (the lock's detail and the drill's report land in the audit log below)
    await check({ method: "POST", path: `${t}/drill` }, 200);
    await check({ method: "POST", path: `${t}/lock`, body: {} }, 400);
    await check({ method: "POST", path: `${t}/lock`, body: { reason: "contract test" } }, 200);
    await check({ method: "POST", path: `${t}/encrypt`, token, body: { plaintext: b64("x") } }, 423);
    await check({ method: "POST", path: `${t}/drill` }, 409);
    await check({ method: "POST", path: `${t}/unlock` }, 200);
    await check({ method: "POST", path: "/api/v1/tenants/no-such-tenant/unlock" }, 404);
    await check({ method: "GET", path: `${t}/health` }, 200);

    // crypto-shredding, on a tenant of its own (its data path answers 410 afterwards)
    const gone = "/api/v1/tenants/contracts-shred";
    await check({ method: "POST", path: "/api/v1/tenants", body: { slug: "contracts-shred", name: "Shred" } }, 201);
    await check({ method: "PUT", path: `${gone}/key`, body: { provider: "aws", keyId: (await h.aws.createKeyForVendor()).keyArn } }, 200);
    const goneToken = (await check({ method: "POST", path: `${gone}/tokens`, body: { name: "svc" } }, 201))!.token as string;
    const goneCt = (await check({ method: "POST", path: `${gone}/encrypt`, token: goneToken, body: { plaintext: b64("x") } }, 200))!.ciphertext;
    await check({ method: "POST", path: `${gone}/shred`, body: {} }, 400);
    await check({ method: "POST", path: `${gone}/shred`, body: { confirm: "contracts-shred" } }, 200);
    await check({ method: "POST", path: `${gone}/shred`, body: { confirm: "contracts-shred" } }, 410);
    await check({ method: "POST", path: `${gone}/encrypt`, token: goneToken, body: { plaintext: b64("x") } }, 410);
    await check({ method: "POST", path: `${gone}/decrypt`, token: goneToken, body: { ciphertext: goneCt } }, 410);
    await check({ method: "POST", path: `${gone}/unlock` }, 410);
    await check({ method: "PUT", path: `${gone}/key`, body: { provider: "aws", keyId: (await h.aws.createKeyForVendor()).keyArn } }, 410);
    await check({ method: "GET", path: `${gone}/status`, token: goneToken }, 200);
    await check({ method: "GET", path: `${gone}/audit?action=tenant.shred` }, 200);
    // key lifecycle: the re-wrap job (a paused one stands in for a job in progress, to cancel it)
    await check({ method: "GET", path: `${t}/lifecycle` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/lifecycle" }, 404);
    await check({ method: "POST", path: `${t}/lifecycle/rewrap` }, 200);
    await check({ method: "POST", path: "/api/v1/tenants/no-such-tenant/lifecycle/rewrap" }, 404);
    await h.runtime.db.query(
      `INSERT INTO rewrap_job (tenant_id, state, cause, target_connection_id, next_run_at)
       SELECT tenant_id, 'paused', 'manual', id, now() + interval '1 day' FROM key_connection WHERE status = 'connected' AND tenant_id = (SELECT id FROM tenant WHERE slug = $1)`,
      [t.split("/").pop()],
    );
    await check({ method: "POST", path: `${t}/lifecycle/cancel` }, 200);
    await check({ method: "POST", path: `${t}/lifecycle/cancel` }, 409);

    // webhooks (created before the audit reads, so their deliveries exist by then)
    const hook = (await check({ method: "POST", path: `${t}/webhooks`, body: { url: receiverUrl } }, 201))!;
    await check({ method: "POST", path: `${t}/webhooks`, body: { url: "not a url" } }, 400);
    await check({ method: "GET", path: `${t}/webhooks` }, 200);
    await check({ method: "GET", path: `${t}/webhooks`, token: null }, 401);
    let deliveries: unknown[] = [];
    for (const deadline = Date.now() + 10_000; deliveries.length === 0 && Date.now() < deadline; ) {
      deliveries = (await check({ method: "GET", path: `${t}/webhooks/${hook.webhook.id}/deliveries` }, 200))!.deliveries;
      if (deliveries.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(deliveries.length, "a delivery was logged").toBeGreaterThan(0);
    await check({ method: "GET", path: `${t}/webhooks/not-a-uuid/deliveries` }, 400);

    // audit
    await check({ method: "PUT", path: `${t}/audit/retention`, body: { days: 3650 } }, 200);
    await check({ method: "PUT", path: `${t}/audit/retention`, body: { days: 0 } }, 400);
    const page = (await check({ method: "GET", path: `${t}/audit?limit=1000` }, 200))!;
    const actions = new Set((page.events as Array<{ action: string }>).map((e) => e.action));
    for (const a of ["tenant.create", "key.validate", "key.connect", "token.create", "token.revoke", "tenant.settings", "encrypt", "decrypt", "kms.wrap", "kms.unwrap", "tenant.drill", "tenant.lock", "tenant.unlock", "webhook.create"]) {
      expect(actions.has(a), `audit list holds a ${a} event`).toBe(true);
    }
    await check({ method: "GET", path: `${t}/audit?cursor=bad` }, 400);
    const jsonl = await send({ method: "GET", path: `${t}/audit/export?format=jsonl` });
    expect(jsonl.status).toBe(200);
    validator.check("GET", `${t}/audit/export`, jsonl);
    const lines = jsonl.text.trim().split("\n").map((l) => JSON.parse(l) as { type?: string; action?: string });
    expect(lines[0]!.type).toBe("header");
    expect(lines.some((l) => l.action === "encrypt")).toBe(true);
    await check({ method: "GET", path: `${t}/audit/export?format=csv` }, 200);
    await check({ method: "GET", path: `${t}/audit/export?format=xml` }, 400);
    await check({ method: "GET", path: `${t}/audit/verify` }, 200);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/audit/verify" }, 404);
    await check({ method: "GET", path: `${t}/audit/activity?minutes=10` }, 200);
    await check({ method: "GET", path: `${t}/audit/activity?minutes=0` }, 400);
    await check({ method: "GET", path: "/api/v1/tenants/no-such-tenant/audit/stream" }, 404);
    const sse = await readSse(
      `${h.runtime.url}${t}/audit/stream`,
      async () => void (await send({ method: "POST", path: `${t}/decrypt`, token, body: { ciphertext: enc.ciphertext, context: { row: "1" } } })),
      (text) => /event: audit\ndata: .*"action":"decrypt".*\n\n/.test(text),
    );
    expect(sse.status).toBe(200);
    const streamed = validator.checkSse("GET", `${t}/audit/stream`, sse) as Array<{ action: string }>;
    expect(streamed.map((e) => e.action)).toContain("decrypt");
    await check({ method: "DELETE", path: `${t}/webhooks/${hook.webhook.id}` }, 204);
    await check({ method: "DELETE", path: `${t}/webhooks/not-a-uuid` }, 400);

    // push endpoints of the clouds
    const ignored = signSns({ Type: "Notification", MessageId: randomUUID(), TopicArn: TOPIC, Message: JSON.stringify({ "detail-type": "Unrelated", source: "aws.s3", detail: {} }), Timestamp: new Date().toISOString() });
    const snsHeaders = { "content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification" };
    await check({ method: "POST", path: "/api/v1/kms-events/aws", token: null, rawBody: JSON.stringify(ignored), headers: snsHeaders }, 200);
    await check({ method: "POST", path: "/api/v1/kms-events/aws", token: null, rawBody: JSON.stringify({ ...ignored, Signature: b64("forged") }), headers: snsHeaders }, 403);
    const grid = { "x-broker-event-secret": EVENTGRID_SECRET };
    const handshake = [{ id: randomUUID(), eventType: "Microsoft.EventGrid.SubscriptionValidationEvent", subject: "", eventTime: new Date().toISOString(), data: { validationCode: "code-123" } }];
    await check({ method: "POST", path: "/api/v1/kms-events/azure", token: null, body: handshake, headers: grid }, 200);
    await check({ method: "POST", path: "/api/v1/kms-events/azure", token: null, body: handshake }, 401);
    await check({ method: "OPTIONS", path: "/api/v1/kms-events/azure", token: null, headers: { ...grid, "webhook-request-origin": "eventgrid.azure.net" } }, 200);
    await check({ method: "OPTIONS", path: "/api/v1/kms-events/azure", token: null, headers: { ...grid, "webhook-request-origin": "evil.example" } }, 403);
    const pubsub = { "x-broker-event-secret": PUBSUB_TOKEN };
    await check({ method: "POST", path: "/api/v1/kms-events/gcp", token: null, body: { message: { messageId: "m-1" }, subscription: "s" }, headers: pubsub }, 200);
    await check({ method: "POST", path: "/api/v1/kms-events/gcp", token: null, body: { message: { messageId: "m-2" } } }, 401);

    // The audit log after all of the above: each action's detail (including the KMS's refusal of the
    // ungranted key, the export, the retention change and the webhook removal) matches the document.
    for (const tenant of [slug, "ungranted"]) {
      const all = (await check({ method: "GET", path: `/api/v1/tenants/${tenant}/audit?limit=1000` }, 200))!;
      expect(all.events.length).toBeGreaterThan(0);
    }
    const after = (await check({ method: "GET", path: `${t}/audit?action=audit.export,webhook.delete,tenant.settings` }, 200))!;
    expect(new Set((after.events as Array<{ action: string }>).map((e) => e.action))).toEqual(new Set(["audit.export", "webhook.delete", "tenant.settings"]));
    const refused = (await check({ method: "GET", path: "/api/v1/tenants/ungranted/audit?action=kms.wrap" }, 200))!;
    expect((refused.events as Array<{ detail: unknown }>).some((e) => e.detail !== null), "a KMS refusal records its message").toBe(true);

    // Every operation of the document was called with both kinds of answer (where it has an error to give).
    const noClientError = new Set(["GET /api/health", "GET /api/metrics", "GET /api/v1/openapi.json", "GET /api/v1/audit/public-key", "GET /api/v1/tenants/{slug}/audit/stream"]);
    const missing: string[] = [];
    for (const op of validator.operations()) {
      const seen = validator.seen.get(op) ?? new Set<number>();
      if (![...seen].some((s) => s < 400)) missing.push(`${op}: no success`);
      if (!noClientError.has(op) && ![...seen].some((s) => s >= 400)) missing.push(`${op}: no error`);
    }
    expect(missing).toEqual([]);
  });
});
