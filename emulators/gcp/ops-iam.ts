// google.iam.v1.IAMPolicy on key rings and crypto keys (etag read-modify-write as in real IAM).
import { randomBytes } from "node:crypto";
import { invalid, RpcError, S } from "./errors";
import { MEMBER_RE, type Handler } from "./service";
import type { Binding } from "./store";

export const iamHandlers: Record<string, Handler> = {
  GetIamPolicy(svc, principal, req) {
    const { resource, perm } = svc.iamResource(req, "get");
    svc.authorize(principal, perm, resource);
    svc.requireExisting(resource);
    return svc.policyProto(resource);
  },

  SetIamPolicy(svc, principal, req) {
    const { resource, perm } = svc.iamResource(req, "set");
    svc.authorize(principal, perm, resource);
    svc.requireExisting(resource);
    const policy = (req.policy ?? {}) as { bindings?: Array<{ role?: string; members?: string[]; condition?: { expression?: string } | null }>; etag?: Buffer };
    const current = svc.store.policy(resource);
    // Read-modify-write protection, as real IAM does with the etag from GetIamPolicy.
    if (policy.etag && policy.etag.length > 0 && !policy.etag.equals(current.etag)) {
      throw new RpcError(S.ABORTED, "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.");
    }
    const bindings: Binding[] = [];
    for (const b of policy.bindings ?? []) {
      if (!b.role || !b.role.startsWith("roles/")) throw invalid(`Role ${String(b.role)} is not supported for this resource.`);
      if (b.condition?.expression) throw invalid("The emulator does not support IAM conditions.");
      for (const m of b.members ?? []) if (!MEMBER_RE.test(m)) throw invalid(`Invalid member: ${m}`);
      const members = [...new Set(b.members ?? [])];
      if (members.length) bindings.push({ role: b.role, members });
    }
    svc.store.policies.set(resource, { bindings, etag: randomBytes(8) });
    svc.store.save();
    return svc.policyProto(resource);
  },

  TestIamPermissions(svc, principal, req) {
    const resource = svc.requireName(req, "resource");
    const perms = Array.isArray(req.permissions) ? (req.permissions as string[]) : [];
    return { permissions: perms.filter((p) => svc.hasPermission(principal, p, resource)) };
  },
};
