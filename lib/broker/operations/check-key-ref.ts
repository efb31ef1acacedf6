// POST /api/v1/key-ref/validate: the provider's own format check of a key reference, without
// calling the KMS (the console's live validation).
import { authorize } from "../../auth/authorize";
import { providerFor } from "../../kms/registry";
import { isKmsError, type KmsProviderName } from "../../kms/types";
import type { BrokerContext } from "../context";
import type { OperationBase } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZKeyRefCheck } from "../../contracts/tenants";
export { ZKeyRefCheckRequest } from "../../contracts/route-requests";

export function checkKeyRef({ ctx, actor, provider, keyId }: OperationBase<Pick<BrokerContext, "providers">> & { provider: KmsProviderName; keyId: string }): { ok: true } | { ok: false; message: string } {
  authorize(actor, "key.check");
  try {
    providerFor(ctx.providers, provider).canonicalKeyRef(keyId);
    return { ok: true };
  } catch (e) {
    return { ok: false, message: isKmsError(e) ? e.message : "invalid key reference" };
  }
}
