// GET /api/v1/audit/public-key: the broker's Ed25519 public key(s) that sign audit checkpoints.
// Public: anyone holding an export may verify it offline.
import { getPublicKey, listPublicKeys } from "../../audit";
import type { BrokerContext } from "../context";

export async function getAuditPublicKey({ ctx }: { ctx: Pick<BrokerContext, "db"> }) {
  return { current: await getPublicKey(ctx.db), all: await listPublicKeys(ctx.db) };
}
