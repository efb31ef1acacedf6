// The signed-in console user's step-up factors (issue 13, item 4): TOTP and passkey enrolment,
// listing and removal, and the step-up itself (a passkey assertion or a TOTP code).
import { enrollPasskey, passkeyRegistrationOptions, ZPasskeyEnrollRequest, ZPasskeyRegistrationOptions } from "../../broker/operations/enroll-passkey";
import { confirmTotp, enrollTotp, ZTotpCode, ZTotpEnrollment, ZTotpEnrollRequest } from "../../broker/operations/enroll-totp";
import { listMyFactors, removeFactor, ZFactor, ZFactorList, ZFactorParams } from "../../broker/operations/list-factors";
import { stepUp, stepUpChallenge, ZStepUpChallenge, ZStepUpRequest, ZStepUpResult } from "../../broker/operations/step-up";
import type { RouteEnv } from "../route";
import { defineRoute } from "../route";
import { ZError } from "../schemas";

export function accountRoutes(env: RouteEnv) {
  const { ctx } = env;
  const errors = { 400: ZError, 401: ZError, 403: ZError };
  const originOf = (req: { headers: { origin?: string | string[] } }) => (typeof req.headers.origin === "string" ? req.headers.origin : undefined);

  defineRoute({
    method: "GET",
    url: "/api/v1/me/factors",
    summary: "The signed-in user's passkeys and TOTP authenticators",
    tag: "account",
    access: "account.factors",
    responses: { 200: ZFactorList, ...errors },
    handler: async ({ caller }) => listMyFactors({ ctx, actor: caller! }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/me/factors/totp",
    summary: "Start a TOTP enrolment: the seed is shown once; confirm it with a first code",
    tag: "account",
    access: "account.factor_enroll",
    body: ZTotpEnrollRequest,
    responses: { 201: ZTotpEnrollment, ...errors },
    handler: async ({ body, caller, reply }) => {
      reply.code(201);
      return enrollTotp({ ctx, actor: caller!, name: body.name });
    },
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/me/factors/:id/verify",
    summary: "Confirm a TOTP enrolment with a code from the authenticator",
    tag: "account",
    access: "account.factors",
    params: ZFactorParams,
    body: ZTotpCode,
    responses: { 200: ZFactor, 404: ZError, 409: ZError, ...errors },
    handler: async ({ params, body, caller, requestId }) => confirmTotp({ ctx, actor: caller!, requestId, id: params.id, code: body.code }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/me/factors/passkey/options",
    summary: "Options for navigator.credentials.create (a passkey registration)",
    tag: "account",
    access: "account.factor_enroll",
    responses: { 200: ZPasskeyRegistrationOptions, ...errors },
    handler: async ({ req, caller }) => passkeyRegistrationOptions({ ctx, actor: caller!, origin: originOf(req) }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/me/factors/passkey",
    summary: "Register a passkey with the browser's answer to the options",
    tag: "account",
    access: "account.factor_enroll",
    body: ZPasskeyEnrollRequest,
    responses: { 201: ZFactor, ...errors },
    handler: async ({ req, body, caller, requestId, reply }) => {
      const f = await enrollPasskey({ ctx, actor: caller!, requestId, origin: originOf(req), name: body.name, credential: body.credential });
      reply.code(201);
      return f;
    },
  });

  defineRoute({
    method: "DELETE",
    url: "/api/v1/me/factors/:id",
    summary: "Remove a factor (needs a fresh step-up)",
    tag: "account",
    access: "account.factor_enroll",
    params: ZFactorParams,
    responses: { 200: ZFactor, 404: ZError, ...errors },
    handler: async ({ params, caller, requestId }) => removeFactor({ ctx, actor: caller!, requestId, id: params.id }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/me/step-up/challenge",
    summary: "Which factors can step up, and a passkey assertion challenge",
    tag: "account",
    access: "account.step_up",
    responses: { 200: ZStepUpChallenge, ...errors },
    handler: async ({ req, caller }) => stepUpChallenge({ ctx, actor: caller!, origin: originOf(req) }),
  });

  defineRoute({
    method: "POST",
    url: "/api/v1/me/step-up",
    summary: "Step up with a passkey assertion or a TOTP code: sensitive actions are allowed for 5 minutes",
    tag: "account",
    access: "account.step_up",
    body: ZStepUpRequest,
    responses: { 200: ZStepUpResult, ...errors },
    handler: async ({ req, body, caller, requestId }) => stepUp({ ctx, actor: caller!, requestId, origin: originOf(req), proof: body }),
  });
}
