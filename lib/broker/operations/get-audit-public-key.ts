// GET /api/v1/audit/public-key: the broker's Ed25519 public key(s) that sign audit checkpoints.
// Public: anyone holding an export may verify it offline.
import { getPublicKey, listPublicKeys } from "../../audit";
import type { BrokerContext } from "../context";
// The request and response schemas of this operation's route (lib/contracts).
export { ZAuditPublicKeys } from "../../contracts/audit";

export async function getAuditPublicKey({ ctx }: { ctx: Pick<BrokerContext, "db"> }) {
  return { current: await getPublicKey(ctx.db), all: await listPublicKeys(ctx.db) };
}
