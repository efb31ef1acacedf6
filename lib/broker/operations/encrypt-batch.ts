// POST /api/v1/tenants/{slug}/encrypt/batch: up to 1,000 encryptions in one request, one
// result per item in order; items may name different data classes (`dataClass`). An item's own
// refusal (bad input, a per-item policy, a class the tenant does not have) is its result; a
// lock of any class an item names, a class without a key, or an outage fails the batch as it
// would fail a single request (423, 409, 503). Each item is its own audit entry, all written in
// one group commit before the answer.
import type { AuditEntryInput } from "../../audit/types";
import { sealEnvelope } from "../../crypto/envelope";
import type { DekForUse } from "../data-keys";
import { BrokerError } from "../errors";
import type { ClassRef } from "../tenant-registry";
import { auditFailure } from "../views";
import { isItemRefusal, itemEntry, itemRefs, refusalReason, wholeBatchRefusals, type BatchResult, type BatchScope } from "./batch-items";
import { admitClass, admitDataItems, admitItem, classRefusalEntry, dataKeyFailure, exceptionReason, lockedRefusal, recordRefusals, type DataDeps } from "./data-admission";
import type { EncryptInput } from "./encrypt";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZEncryptBatchRequest, ZEncryptBatchResponse } from "../../contracts/batch";

export interface EncryptBatchInput {
  /** Items as the route parsed them: an item that failed its schema arrives as its error. */
  items: ReadonlyArray<BatchResult<EncryptInput>>;
}

export async function encryptBatch({ ctx, actor: caller, tenant: slug, requestId, items }: TenantOperation<DataDeps> & EncryptBatchInput): Promise<Array<BatchResult<Buffer>>> {
  const admitted = await admitDataItems(ctx, caller, slug, "encrypt", requestId, () => itemRefs(items));
  const { tenant, actor } = admitted;
  const scope: BatchScope = { tenantId: tenant.id, actor, action: "encrypt", requestId, size: items.length };
  const results = new Array<BatchResult<Buffer>>(items.length);
  const entries: AuditEntryInput[] = [];
  const accepted: number[] = [];
  const classes = new Array<ClassRef | undefined>(items.length);
  const grants = new Map<number, string | null>();
  const bytesOf = (v: EncryptInput) => v.plaintext.length;
  for (const [i, item] of items.entries()) {
    if (!item.ok) {
      results[i] = item;
      entries.push({ ...itemEntry(scope, i), outcome: "invalid", reason: item.error.code });
      continue;
    }
    try {
      classes[i] = admitClass(admitted, "encrypt", { name: item.value.dataClass });
    } catch (e) {
      if (!(e instanceof BrokerError)) throw e;
      const { outcome, reason } = classRefusalEntry(e);
      if (!isItemRefusal(e)) {
        // A lock or a class without a key: the batch is refused as a single request of that class would be.
        if (outcome === "locked") ctx.metrics.dataRequests.inc({ operation: "encrypt", outcome: "locked", cache: "none" }, items.length);
        await recordRefusals(ctx, wholeBatchRefusals(scope, items, bytesOf, (k) => classes[k]).map((r) => ({ ...r, outcome, reason })));
        throw e;
      }
      results[i] = { ok: false, error: e };
      const entry = itemEntry(scope, i, { purpose: item.value.purpose, bytes: item.value.plaintext.length });
      entries.push({ ...entry, detail: { ...entry.detail, dataClass: item.value.dataClass }, outcome, reason });
      continue;
    }
    try {
      grants.set(i, (await admitItem(ctx, admitted, "encrypt", item.value, requestId)).breakGlassGrantId);
      accepted.push(i);
    } catch (e) {
      if (!isItemRefusal(e)) throw e;
      results[i] = { ok: false, error: e };
      entries.push({ ...itemEntry(scope, i, { purpose: item.value.purpose }, classes[i]), outcome: "denied", reason: refusalReason(e) });
    }
  }
  const input = (i: number) => (items[i] as { value: EncryptInput }).value;
  // Every item's entry for a refusal of the whole batch, built only if one happens.
  const refusals = () => wholeBatchRefusals(scope, items, bytesOf, (k) => classes[k]);
  // One DEK use per item (the cluster-wide use bound counts encryptions); hits after the first of each class.
  const deks: DekForUse[] = [];
  for (const i of accepted) {
    try {
      deks.push(await ctx.keys.forEncrypt(tenant, { actor, requestId }, classes[i]));
    } catch (e) {
      throw await dataKeyFailure(ctx, tenant, refusals(), e, classes[i]);
    }
  }
  const lockedNow = (dataClass: ClassRef | undefined) => lockedRefusal(ctx, tenant, refusals(), dataClass);
  const locked = accepted.find((i) => classes[i]!.scope.state === "locked");
  if (locked !== undefined) throw await lockedNow(classes[locked]);
  let hits = 0;
  for (const [k, i] of accepted.entries()) {
    const { plaintext, context, purpose } = input(i);
    const dek = deks[k]!;
    let sealed: Buffer;
    try {
      sealed = sealEnvelope(dek.material, { tenantId: tenant.id, dekId: dek.dekId, classId: classes[i]!.id }, plaintext, context);
    } catch {
      // The DEK was destroyed between lookup and use: only a lock does that.
      throw await lockedNow(classes[i]);
    }
    results[i] = { ok: true, value: sealed };
    if (dek.hit) hits++;
    entries.push({ ...itemEntry(scope, i, { purpose, dekId: dek.dekId, cacheHit: dek.hit, bytes: plaintext.length }, classes[i]), outcome: "success", reason: exceptionReason(grants.get(i) ?? null) });
  }
  await ctx.audit.recordAll(entries).catch((e) => {
    throw auditFailure(e);
  });
  if (hits) ctx.metrics.dataRequests.inc({ operation: "encrypt", outcome: "success", cache: "hit" }, hits);
  if (accepted.length - hits) ctx.metrics.dataRequests.inc({ operation: "encrypt", outcome: "success", cache: "miss" }, accepted.length - hits);
  return results;
}
