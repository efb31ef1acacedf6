// Schemas of the M-of-N approval and step-up resources (issue 13, items 3 and 4): the tenant's
// quorum policy, approval requests and their history, a console user's factors and step-up.
import { z } from "zod";

/**
 * Actions a tenant may put under quorum. Shredding (tenant.shred) joins the list when the shred
 * operation lands (see lib/broker/quorum/README.md).
 */
export const QUORUM_ACTIONS = ["tenant.unlock", "key.connect", "tenant.shred", "token.create", "audit.retention", "governance.policy", "governance.break_glass", "quorum.policy"] as const;
export const ZQuorumAction = z.enum(QUORUM_ACTIONS);
export type QuorumAction = z.infer<typeof ZQuorumAction>;

export const ZQuorumPolicyRequest = z.strictObject({
  actions: z.array(ZQuorumAction).max(QUORUM_ACTIONS.length).describe("actions that need approval; empty: none"),
  requiredApprovals: z.number().int().min(1).max(20).describe("M: distinct tenant admins, besides the requester, who must approve"),
  requireStepUp: z.boolean().describe("every admin of the tenant must step up with a passkey or TOTP code for sensitive actions"),
});
export type TQuorumPolicyRequest = z.infer<typeof ZQuorumPolicyRequest>;

export const ZQuorumPolicy = ZQuorumPolicyRequest.extend({
  admins: z.number().int().describe("N: the tenant's active console admins"),
  updatedAt: z.string().nullable().describe("null: never set (no action needs approval)"),
});

export const APPROVAL_STATUSES = ["pending", "executed", "failed", "expired", "cancelled"] as const;

export const ZApprovalView = z.object({
  id: z.string(),
  action: ZQuorumAction,
  params: z.string().describe("the exact parameters the action runs with, as canonical JSON"),
  status: z.enum(APPROVAL_STATUSES),
  requestedBy: z.object({ id: z.string(), name: z.string() }),
  requiredApprovals: z.number().int(),
  approvals: z.array(z.object({ userId: z.string(), email: z.string(), at: z.string() })).describe("distinct approvers, oldest first; the requester never counts"),
  createdAt: z.string(),
  expiresAt: z.string(),
  decidedAt: z.string().nullable().describe("when it ran, failed, expired or was cancelled"),
  error: z.string().nullable().describe("why the action failed when it ran"),
});
export type TApprovalView = z.infer<typeof ZApprovalView>;

/** 202: the action did not run; it waits for approval. */
export const ZApprovalPending = z.object({ approval: ZApprovalView }).describe("the action needs M-of-N approval: it runs when the M-th admin approves");

export const ZApprovalList = z.object({ requests: z.array(ZApprovalView).describe("newest first") });
export const ZApprovalListQuery = z.strictObject({ status: z.enum(["pending", "all"]).default("all") });
export const ZApprovalParams = z.strictObject({ slug: z.string().min(1).max(63), id: z.uuid() });

// ---------------------------------------------------------------- factors and step-up

export const ZFactor = z.object({
  id: z.string(),
  kind: z.enum(["totp", "passkey"]),
  name: z.string(),
  verified: z.boolean().describe("false until the enrolment is confirmed; an unverified factor does not count"),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});
export const ZFactorList = z.object({ factors: z.array(ZFactor), stepUpRequired: z.boolean().describe("the user's tenant requires step-up for its admins") });
export const ZFactorParams = z.strictObject({ id: z.uuid() });

export const ZTotpEnrollRequest = z.strictObject({ name: z.string().trim().min(1).max(60).default("Authenticator app") });
export const ZTotpEnrollment = z.object({
  factor: ZFactor,
  secret: z.string().describe("base32 seed, shown once"),
  otpauthUrl: z.string().describe("otpauth://totp/... for a QR code"),
});
export const ZTotpCode = z.strictObject({ code: z.string().regex(/^\d{6}$/, "a 6-digit code") });

const ZCredentialDescriptor = z.object({ id: z.string(), type: z.literal("public-key"), transports: z.array(z.string()).optional() });

export const ZPasskeyRegistrationOptions = z.object({
  challenge: z.string(),
  rp: z.object({ name: z.string(), id: z.string().optional() }),
  user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }),
  pubKeyCredParams: z.array(z.object({ alg: z.number(), type: z.literal("public-key") })),
  timeout: z.number().optional(),
  excludeCredentials: z.array(ZCredentialDescriptor).optional(),
  authenticatorSelection: z.object({ residentKey: z.string().optional(), userVerification: z.string().optional(), requireResidentKey: z.boolean().optional() }).optional(),
  attestation: z.string().optional(),
  extensions: z.object({ credProps: z.boolean().optional() }).optional(),
  hints: z.array(z.string()).optional(),
});

export const ZPasskeyAuthenticationOptions = z.object({
  challenge: z.string(),
  rpId: z.string().optional(),
  timeout: z.number().optional(),
  allowCredentials: z.array(ZCredentialDescriptor).optional(),
  userVerification: z.string().optional(),
  hints: z.array(z.string()).optional(),
});

/** The browser's credential as @simplewebauthn/browser returns it (base64url members). */
const ZCredentialResponse = z.strictObject({
  id: z.string().max(1024),
  rawId: z.string().max(1024),
  type: z.literal("public-key"),
  // Strings (base64url), transports (strings) and publicKeyAlgorithm (a COSE algorithm number, e.g. -7).
  response: z.record(z.string(), z.union([z.string().max(65536), z.array(z.string().max(32)), z.number().int()])),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).optional(),
});
export const ZPasskeyEnrollRequest = z.strictObject({ name: z.string().trim().min(1).max(60).default("Passkey"), credential: ZCredentialResponse });

export const ZStepUpChallenge = z.object({
  totp: z.boolean().describe("the user has a TOTP factor"),
  passkey: ZPasskeyAuthenticationOptions.nullable().describe("options for navigator.credentials.get, when the user has a passkey"),
});
export const ZStepUpRequest = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("totp"), code: z.string().regex(/^\d{6}$/, "a 6-digit code") }),
  z.strictObject({ kind: z.literal("passkey"), credential: ZCredentialResponse }),
]);
export const ZStepUpResult = z.object({ stepUpUntil: z.string().describe("sensitive actions are allowed until then (5 minutes)") });
