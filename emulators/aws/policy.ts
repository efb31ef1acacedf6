// Key policies and grants: the subset of IAM policy evaluation the AWS emulator models.
import { canonicalContext } from "./blob";
import type { AwsPrincipal, GrantRecord } from "./store";

// ---------------------------------------------------------------------------------------------
// Key policy: the subset the emulator understands. Anything else is refused at PutKeyPolicy /
// CreateKey time with MalformedPolicyDocumentException, so an unsupported construct can never be
// silently ignored (which would make a Deny fail open).
// ---------------------------------------------------------------------------------------------
interface PolicyStatement {
  effect: "Allow" | "Deny";
  principals: string[]; // ARNs, account ids or "*"
  actions: string[];
  contextEquals: Array<[string, string[]]>;
}

export class PolicyError extends Error {}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

export function parseKeyPolicy(text: string): PolicyStatement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new PolicyError("Policy is not valid JSON.");
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new PolicyError("Policy must be a JSON object.");
  const statements = (doc as Record<string, unknown>).Statement;
  if (statements === undefined) throw new PolicyError("Policy has no Statement.");
  return asList(statements).map((raw, i) => {
    if (!raw || typeof raw !== "object") throw new PolicyError(`Statement ${i} is not an object.`);
    const s = raw as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (!["Sid", "Effect", "Principal", "Action", "Resource", "Condition"].includes(k)) {
        throw new PolicyError(`Statement ${i}: unsupported element '${k}'.`);
      }
    }
    if (s.Effect !== "Allow" && s.Effect !== "Deny") throw new PolicyError(`Statement ${i}: Effect must be Allow or Deny.`);
    let principals: string[];
    if (s.Principal === "*") principals = ["*"];
    else if (s.Principal && typeof s.Principal === "object" && !Array.isArray(s.Principal)) {
      const p = s.Principal as Record<string, unknown>;
      if (Object.keys(p).some((k) => k !== "AWS")) throw new PolicyError(`Statement ${i}: only the AWS principal type is supported.`);
      principals = asList(p.AWS).map((x) => {
        if (typeof x !== "string" || !x) throw new PolicyError(`Statement ${i}: Principal.AWS must be ARN strings.`);
        return x;
      });
    } else throw new PolicyError(`Statement ${i}: Principal is required.`);
    const actions = asList(s.Action).map((a) => {
      if (typeof a !== "string" || !/^(kms:[A-Za-z*]+|\*)$/.test(a)) throw new PolicyError(`Statement ${i}: invalid Action.`);
      return a;
    });
    const contextEquals: Array<[string, string[]]> = [];
    if (s.Condition !== undefined) {
      if (!s.Condition || typeof s.Condition !== "object") throw new PolicyError(`Statement ${i}: invalid Condition.`);
      for (const [op, body] of Object.entries(s.Condition as Record<string, unknown>)) {
        if (op !== "StringEquals") throw new PolicyError(`Statement ${i}: unsupported condition operator '${op}'.`);
        if (!body || typeof body !== "object") throw new PolicyError(`Statement ${i}: invalid StringEquals.`);
        for (const [key, val] of Object.entries(body as Record<string, unknown>)) {
          if (!/^kms:EncryptionContext:.+/.test(key)) throw new PolicyError(`Statement ${i}: unsupported condition key '${key}'.`);
          const values = asList(val);
          if (values.some((v) => typeof v !== "string")) throw new PolicyError(`Statement ${i}: condition values must be strings.`);
          contextEquals.push([key.slice("kms:EncryptionContext:".length), values as string[]]);
        }
      }
    }
    return { effect: s.Effect, principals, actions, contextEquals };
  });
}

function principalMatches(pattern: string, caller: AwsPrincipal): boolean {
  if (pattern === "*") return true;
  if (pattern === caller.arn) return true;
  // The account root (or a bare account id) delegates to the account's IAM policies; the emulator
  // models those as "allow KMS" for every principal except one marked iamKmsAccess: false.
  if (caller.iamKmsAccess === false) return false;
  return pattern === caller.accountId || pattern === `arn:aws:iam::${caller.accountId}:root`;
}

function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
  return re.test(action);
}

export type PolicyDecision = "allow" | "deny" | "none";

export function evaluatePolicy(
  statements: PolicyStatement[],
  caller: AwsPrincipal,
  action: string,
  ctx: Record<string, string> | undefined,
): PolicyDecision {
  let allowed = false;
  for (const st of statements) {
    if (!st.principals.some((p) => principalMatches(p, caller))) continue;
    if (!st.actions.some((a) => actionMatches(a, action))) continue;
    // Simplification: context key and value are both matched exactly (case-sensitive).
    const condOk = st.contextEquals.every(([k, values]) => ctx !== undefined && k in ctx && values.includes(ctx[k]!));
    if (!condOk) continue;
    if (st.effect === "Deny") return "deny";
    allowed = true;
  }
  return allowed ? "allow" : "none";
}

export function grantAllows(g: GrantRecord, caller: AwsPrincipal, op: string, ctx: Record<string, string> | undefined): boolean {
  if (!principalMatches(g.granteePrincipal, caller)) return false;
  if (!g.operations.includes(op)) return false;
  const c = g.constraints;
  if (c?.EncryptionContextEquals) {
    const want = canonicalContext(c.EncryptionContextEquals);
    if (!want.equals(canonicalContext(ctx))) return false;
  }
  if (c?.EncryptionContextSubset) {
    for (const [k, v] of Object.entries(c.EncryptionContextSubset)) if (ctx?.[k] !== v) return false;
  }
  return true;
}

