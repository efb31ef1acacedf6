// Push endpoints for the clouds' key-change events. Each one authenticates the delivery the way
// its cloud allows (SNS signature, shared secret), turns the event into a hint naming keys, and
// starts an immediate probe of every tenant connected to such a key. It answers as soon as the
// probes are started: the probe, not the event, decides whether a tenant is locked.
import { z } from "zod";
import type { FastifyRequest } from "fastify";
import { BrokerError } from "../../broker/errors";
import { ZSafeString } from "../schemas";
import { secretsEqual } from "../../broker/service-tokens";
import { KmsEventDispatcher } from "../../broker/kms-events/dispatch";
import { hintFromSnsNotification, parseSnsMessage, SnsCertUnavailableError, SnsVerifier } from "../../broker/kms-events/aws-sns";
import { parseEventGrid } from "../../broker/kms-events/azure-event-grid";
import { parsePubSubPush } from "../../broker/kms-events/gcp-pubsub";
import type { KmsProviderName } from "../../kms/types";
import { sendError } from "../errors";
import { defineRoute, type RouteEnv } from "../route";
import { ZError } from "../schemas";

/** Header alternative to the query secret; Event Grid can set it as a delivery property, and it stays out of URLs and logs. */
export const EVENT_SECRET_HEADER = "x-broker-event-secret";

const ZAccepted = z.object({ status: z.enum(["accepted", "ignored", "duplicate", "confirmed"]) });
const errors = { 400: ZError, 401: ZError, 403: ZError };

export function kmsEventRoutes(env: RouteEnv) {
  const { ctx } = env;
  const dispatcher = new KmsEventDispatcher(ctx);
  const sns = SnsVerifier.fromConfig(ctx.config);

  const rejecting = async <T>(provider: KmsProviderName, req: FastifyRequest, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof BrokerError && (e.code === "unauthenticated" || e.code === "forbidden")) {
        dispatcher.count(provider, "rejected");
        req.log.warn({ provider, reason: e.message }, "kms event rejected");
      }
      throw e;
    }
  };

  defineRoute({
    method: "POST",
    url: "/api/v1/kms-events/aws",
    summary: "AWS KMS events (EventBridge via an SNS HTTPS subscription); SNS-signed; confirms subscriptions",
    tag: "events",
    access: "public",
    responses: { 200: ZAccepted, 202: ZAccepted, 503: ZError, ...errors },
    handler: async ({ req, reply }) =>
      rejecting("aws", req, async () => {
        const m = parseSnsMessage(req.body);
        try {
          await sns.verify(m);
          if (m.Type === "SubscriptionConfirmation") {
            await sns.confirmSubscription(m);
            req.log.info({ topic: m.TopicArn }, "SNS subscription confirmed");
            return reply.code(200).send({ status: "confirmed" });
          }
        } catch (e) {
          if (e instanceof SnsCertUnavailableError) {
            // Transient: a 5xx makes SNS deliver again later.
            reply.header("retry-after", "5");
            return sendError(reply, "event_source_unreachable", 503, `could not reach SNS to verify the message: ${e.message}`);
          }
          throw e;
        }
        if (m.Type === "UnsubscribeConfirmation") return reply.code(200).send({ status: "ignored" });
        const hint = hintFromSnsNotification(m);
        if (!hint) {
          dispatcher.count("aws", "ignored");
          return reply.code(200).send({ status: "ignored" });
        }
        const r = await dispatcher.dispatch(hint);
        return reply.code(202).send({ status: r.duplicate ? "duplicate" : "accepted" });
      }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/kms-events/azure",
    summary: "Azure Key Vault events from Event Grid (Event Grid or CloudEvents schema); shared secret; answers the validation handshake",
    tag: "events",
    access: "public",
    query: z.object({ secret: ZSafeString.max(512).optional() }),
    responses: { 200: z.union([ZAccepted, z.object({ validationResponse: z.string() })]), 202: ZAccepted, ...errors },
    handler: async ({ req, reply, query }) =>
      rejecting("azure", req, async () => {
        checkSecret(req, ctx.config.BROKER_EVENTGRID_SECRET, query.secret, "Event Grid", "BROKER_EVENTGRID_SECRET");
        const parsed = parseEventGrid(req.body);
        if (parsed.kind === "validation") return reply.code(200).send({ validationResponse: parsed.validationCode });
        if (parsed.ignored) dispatcher.count("azure", "ignored");
        let accepted = false;
        for (const hint of parsed.hints) accepted = !(await dispatcher.dispatch(hint)).duplicate || accepted;
        return reply.code(parsed.hints.length ? 202 : 200).send({ status: parsed.hints.length === 0 ? "ignored" : accepted ? "accepted" : "duplicate" });
      }),
  });

  defineRoute({
    method: "OPTIONS",
    url: "/api/v1/kms-events/azure",
    summary: "CloudEvents webhook validation (abuse protection) that Event Grid sends before delivering CloudEvents",
    tag: "events",
    access: "public",
    query: z.object({ secret: ZSafeString.max(512).optional() }),
    responses: { 200: "allowed", ...errors },
    handler: async ({ req, reply, query }) =>
      rejecting("azure", req, async () => {
        checkSecret(req, ctx.config.BROKER_EVENTGRID_SECRET, query.secret, "Event Grid", "BROKER_EVENTGRID_SECRET");
        const origin = req.headers["webhook-request-origin"];
        // Only Event Grid's documented origin is granted; anything else gets no permission to deliver.
        if (origin !== "eventgrid.azure.net") throw new BrokerError("forbidden", "unexpected WebHook-Request-Origin");
        return reply.code(200).header("webhook-allowed-origin", origin).header("webhook-allowed-rate", "*").send();
      }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/kms-events/gcp",
    summary: "Google Cloud KMS audit log entries pushed by Pub/Sub; shared token in the push URL",
    tag: "events",
    access: "public",
    query: z.object({ token: ZSafeString.max(512).optional() }),
    responses: { 200: ZAccepted, 202: ZAccepted, ...errors },
    handler: async ({ req, reply, query }) =>
      rejecting("gcp", req, async () => {
        checkSecret(req, ctx.config.BROKER_PUBSUB_TOKEN, query.token, "Pub/Sub push", "BROKER_PUBSUB_TOKEN");
        const { hint } = parsePubSubPush(req.body);
        if (!hint) {
          dispatcher.count("gcp", "ignored");
          return reply.code(200).send({ status: "ignored" });
        }
        const r = await dispatcher.dispatch(hint);
        return reply.code(202).send({ status: r.duplicate ? "duplicate" : "accepted" });
      }),
  });
}

function checkSecret(req: FastifyRequest, expected: string | undefined, fromQuery: string | undefined, what: string, variable: string): void {
  if (!expected) throw new BrokerError("forbidden", `${what} events are not enabled on this broker (set ${variable})`);
  const header = req.headers[EVENT_SECRET_HEADER];
  const given = typeof header === "string" ? header : fromQuery;
  if (!given) throw new BrokerError("unauthenticated", `missing shared secret (${EVENT_SECRET_HEADER} header or query parameter)`);
  if (!secretsEqual(given, expected)) throw new BrokerError("forbidden", "wrong shared secret");
}
