// The data path: encrypt and decrypt for internal services holding a service token.
import type { BrokerContext } from "../../broker/context";
import { BrokerError } from "../../broker/errors";
import { decrypt, ZDecryptRequest, ZDecryptResponse } from "../../broker/operations/decrypt";
import { encrypt, ZEncryptRequest, ZEncryptResponse } from "../../broker/operations/encrypt";
import { actorOf, type Caller } from "../auth";
import { defineRoute, type RouteEnv } from "../route";
import { MAX_PLAINTEXT_BYTES, ZError, ZSlugParams } from "../schemas";

function decodeBase64(s: string, field: string, limit: number): Buffer {
  const buf = Buffer.from(s, "base64");
  if (buf.length > limit) throw new BrokerError("payload_too_large", `${field} is larger than ${limit} bytes`);
  return buf;
}

export async function auditRefusal(broker: Pick<BrokerContext, "registry" | "audit">, slug: string, op: "encrypt" | "decrypt", requestId: string, error: unknown, caller: Caller | null) {
  // Recording a refusal is best effort: the caller is refused either way (and the database may be down).
  const tenant = await broker.registry.getBySlug(slug).catch(() => null);
  if (!tenant) return;
  await broker.audit
    .record({
      tenantId: tenant.id,
      // A known caller with the wrong kind of credential (the admin token, a console session) is named.
      actor: caller ? actorOf(caller) : { type: "system", name: "unauthenticated" },
      action: op,
      outcome: "denied",
      requestId,
      reason: error instanceof BrokerError ? error.code : "unauthenticated",
    })
    // Best effort as above: the refusal's answer does not depend on its audit entry.
    .catch(() => {});
}

export function dataRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError, 404: ZError, 409: ZError, 410: ZError, 413: ZError, 423: ZError, 503: ZError };

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/encrypt",
    summary: "Encrypt up to 1 MiB under the current DEK of the tenant's data class (`dataClass`, default `default`)",
    tag: "data",
    access: "data.encrypt",
    params: ZSlugParams,
    body: ZEncryptRequest,
    responses: { 200: ZEncryptResponse, ...errors },
    onRefused: ({ params, requestId, error, caller }) => auditRefusal(ctx, params.slug, "encrypt", requestId, error, caller),
    handler: async ({ params, body, caller, requestId }) => {
      const plaintext = decodeBase64(body.plaintext, "plaintext", MAX_PLAINTEXT_BYTES);
      const sealed = await encrypt({ ctx, actor: caller!, tenant: params.slug, requestId, plaintext, context: body.context, purpose: body.purpose, dataClass: body.dataClass });
      return { ciphertext: sealed.toString("base64") };
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/tenants/:slug/decrypt",
    summary: "Decrypt a ciphertext of this tenant, with the same context it was encrypted with",
    tag: "data",
    access: "data.decrypt",
    params: ZSlugParams,
    body: ZDecryptRequest,
    responses: { 200: ZDecryptResponse, 422: ZError, ...errors },
    onRefused: ({ params, requestId, error, caller }) => auditRefusal(ctx, params.slug, "decrypt", requestId, error, caller),
    handler: async ({ params, body, caller, requestId }) => {
      const ciphertext = decodeBase64(body.ciphertext, "ciphertext", MAX_PLAINTEXT_BYTES + 1024);
      const plaintext = await decrypt({ ctx, actor: caller!, tenant: params.slug, requestId, ciphertext, context: body.context, purpose: body.purpose });
      const out = plaintext.toString("base64");
      plaintext.fill(0);
      return { plaintext: out };
    },
  });
}
