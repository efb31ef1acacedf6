// POST /api/v1/tenants/{slug}/encrypt/batch: up to 1,000 encryptions in one request, one
// result per item in order. An item's own refusal (bad input, a per-item policy) is its result;
// a lock or an outage fails the batch as it would fail a single request (423, 503). Each item
// is its own audit entry, all written in one group commit before the answer.
import type { AuditEntryInput } from "../../audit/types";
import { sealEnvelope } from "../../crypto/envelope";
import type { DekForUse } from "../data-keys";
import { auditFailure } from "../views";
import { isItemRefusal, itemEntry, itemRefs, refusalReason, wholeBatchRefusals, type BatchResult, type BatchScope } from "./batch-items";
import { admitDataItems, admitItem, exceptionReason, lockedRefusal, withDataKey, type DataDeps } from "./data-admission";
import type { EncryptInput } from "./encrypt";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZEncryptBatchRequest, ZEncryptBatchResponse } from "../../contracts/batch";

export interface EncryptBatchInput {
  /** Items as the route parsed them: an item that failed its schema arrives as its error. */
  items: ReadonlyArray<BatchResult<EncryptInput>>;
}

export async function encryptBatch({ ctx, actor: caller, tenant: slug, requestId, items }: TenantOperation<DataDeps> & EncryptBatchInput): Promise<Array<BatchResult<Buffer>>> {
  const admitted = await admitDataItems(ctx, caller, slug, "encrypt", requestId, itemRefs(items));
  const { tenant, actor } = admitted;
  const scope: BatchScope = { tenantId: tenant.id, actor, action: "encrypt", requestId, size: items.length };
  const results = new Array<BatchResult<Buffer>>(items.length);
  const entries: AuditEntryInput[] = [];
  const accepted: number[] = [];
  const grants = new Map<number, string | null>();
  for (const [i, item] of items.entries()) {
    if (!item.ok) {
      results[i] = item;
      entries.push({ ...itemEntry(scope, i), outcome: "invalid", reason: item.error.code });
      continue;
    }
    try {
      grants.set(i, (await admitItem(ctx, admitted, "encrypt", item.value, requestId)).breakGlassGrantId);
      accepted.push(i);
    } catch (e) {
      if (!isItemRefusal(e)) throw e;
      results[i] = { ok: false, error: e };
      entries.push({ ...itemEntry(scope, i, { purpose: item.value.purpose }), outcome: "denied", reason: refusalReason(e) });
    }
  }
  const input = (i: number) => (items[i] as { value: EncryptInput }).value;
  const refusals = wholeBatchRefusals(scope, items, (v) => v.plaintext.length);
  // One DEK use per item (the cluster-wide use bound counts encryptions); hits after the first.
  const deks = await withDataKey(ctx, tenant, refusals, async () => {
    const out: DekForUse[] = [];
    for (let k = 0; k < accepted.length; k++) out.push(await ctx.keys.forEncrypt(tenant, { actor, requestId }));
    return out;
  });
  const lockedNow = () => lockedRefusal(ctx, tenant, refusals);
  if (tenant.state === "locked") throw await lockedNow();
  let hits = 0;
  for (const [k, i] of accepted.entries()) {
    const { plaintext, context, purpose } = input(i);
    const dek = deks[k]!;
    let sealed: Buffer;
    try {
      sealed = sealEnvelope(dek.material, { tenantId: tenant.id, dekId: dek.dekId }, plaintext, context);
    } catch {
      // The DEK was destroyed between lookup and use: only a lock does that.
      throw await lockedNow();
    }
    results[i] = { ok: true, value: sealed };
    if (dek.hit) hits++;
    entries.push({ ...itemEntry(scope, i, { purpose, dekId: dek.dekId, cacheHit: dek.hit, bytes: plaintext.length }), outcome: "success", reason: exceptionReason(grants.get(i) ?? null) });
  }
  await ctx.audit.recordAll(entries).catch((e) => {
    throw auditFailure(e);
  });
  if (hits) ctx.metrics.dataRequests.inc({ operation: "encrypt", outcome: "success", cache: "hit" }, hits);
  if (accepted.length - hits) ctx.metrics.dataRequests.inc({ operation: "encrypt", outcome: "success", cache: "miss" }, accepted.length - hits);
  return results;
}
