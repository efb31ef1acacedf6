// POST /api/v1/tenants/{slug}/decrypt/batch: up to 1,000 decryptions in one request, one
// result per item in order. Items may name different DEKs and data classes: each distinct DEK
// (with the class its header names) is looked up once (concurrently). A ciphertext that is
// malformed, another tenant's, names a DEK this tenant does not have or a class its DEK does not
// serve, or fails to open is that item's invalid_ciphertext; a lock of any class an item names,
// or an outage, fails the batch (423, 503). Each item is its own audit entry, all in one group commit before the answer;
// if that write fails every plaintext is zeroed and the batch is 503.
import type { AuditEntryInput } from "../../audit/types";
import { openEnvelope, readEnvelopeHeader } from "../../crypto/envelope";
import { InvalidCiphertextError } from "../../crypto/errors";
import { isKmsError } from "../../kms/types";
import type { DekForUse } from "../data-keys";
import { BrokerError } from "../errors";
import { auditFailure } from "../views";
import { isItemRefusal, itemEntry, itemRefs, refusalReason, wholeBatchRefusals, type BatchResult, type BatchScope } from "./batch-items";
import { DataClassMismatchError } from "../data-keys";
import type { ClassRef } from "../tenant-registry";
import { admitClass, admitDataItems, admitItem, classRefusalEntry, dataKeyFailure, exceptionReason, lockedRefusal, recordRefusals, type DataDeps } from "./data-admission";
import type { DecryptInput } from "./decrypt";
import type { TenantOperation } from "./types";
// The request and response schemas of this operation's route (lib/contracts).
export { ZDecryptBatchRequest, ZDecryptBatchResponse } from "../../contracts/batch";

export interface DecryptBatchInput {
  /** Items as the route parsed them: an item that failed its schema arrives as its error. */
  items: ReadonlyArray<BatchResult<DecryptInput>>;
}

interface Lookup {
  dekId: string;
  dataClass: ClassRef;
  /** The accepted items naming this DEK under this class. */
  items: number[];
  dek?: DekForUse;
  error?: unknown;
}

export async function decryptBatch({ ctx, actor: caller, tenant: slug, requestId, items }: TenantOperation<DataDeps> & DecryptBatchInput): Promise<Array<BatchResult<Buffer>>> {
  const admitted = await admitDataItems(ctx, caller, slug, "decrypt", requestId, () => itemRefs(items));
  const { tenant, actor } = admitted;
  const scope: BatchScope = { tenantId: tenant.id, actor, action: "decrypt", requestId, size: items.length };
  const results = new Array<BatchResult<Buffer>>(items.length);
  const entries: AuditEntryInput[] = [];
  const refuse = (i: number, error: BrokerError, fields: Partial<AuditEntryInput>, outcome: AuditEntryInput["outcome"], reason: string, dataClass?: ClassRef) => {
    results[i] = { ok: false, error };
    entries.push({ ...itemEntry(scope, i, fields, dataClass), outcome, reason });
  };
  /** Accepted items by the DEK and class their header names ("dek/class"). */
  const byDek = new Map<string, Lookup>();
  const classes = new Array<ClassRef | undefined>(items.length);
  const grants = new Map<number, string | null>();
  const bytesOf = (v: DecryptInput) => v.ciphertext.length;
  for (const [i, item] of items.entries()) {
    if (!item.ok) {
      refuse(i, item.error, {}, "invalid", item.error.code);
      continue;
    }
    const fields = { purpose: item.value.purpose, bytes: item.value.ciphertext.length };
    try {
      grants.set(i, (await admitItem(ctx, admitted, "decrypt", item.value, requestId)).breakGlassGrantId);
    } catch (e) {
      if (!isItemRefusal(e)) throw e;
      refuse(i, e, fields, "denied", refusalReason(e));
      continue;
    }
    let header;
    try {
      header = readEnvelopeHeader(item.value.ciphertext);
      if (header.tenantId !== tenant.id) throw new InvalidCiphertextError("ciphertext belongs to another tenant");
    } catch (e) {
      refuse(i, new BrokerError("invalid_ciphertext", (e as Error).message), fields, "invalid", "invalid_ciphertext");
      continue;
    }
    let dataClass: ClassRef;
    try {
      dataClass = admitClass(admitted, "decrypt", { header });
    } catch (e) {
      if (!(e instanceof BrokerError)) throw e;
      const { outcome, reason } = classRefusalEntry(e);
      if (!isItemRefusal(e)) {
        // A lock or a class without a key: the batch is refused as a single request of that class would be.
        if (outcome === "locked") ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "locked", cache: "none" }, items.length);
        await recordRefusals(ctx, wholeBatchRefusals(scope, items, bytesOf, (k) => classes[k]).map((r) => ({ ...r, outcome, reason })));
        throw e;
      }
      refuse(i, e, fields, outcome, reason);
      continue;
    }
    classes[i] = dataClass;
    const key = `${header.dekId}/${dataClass.id ?? ""}`;
    const lookup = byDek.get(key);
    if (lookup) lookup.items.push(i);
    else byDek.set(key, { dekId: header.dekId, dataClass, items: [i] });
  }
  const input = (i: number) => (items[i] as { value: DecryptInput }).value;
  // Every item's entry for a refusal of the whole batch, built only if one happens.
  const refusals = () => wholeBatchRefusals(scope, items, bytesOf, (k) => classes[k]);
  const looked = await Promise.all(
    [...byDek.values()].map((l): Promise<Lookup> =>
      ctx.keys.forDecrypt(tenant, l.dekId, { actor, requestId }, l.dataClass.id).then(
        (dek) => ({ ...l, dek }),
        (error: unknown) => ({ ...l, error }),
      ),
    ),
  );
  // A DEK this tenant does not have, or one its KMS calls invalid, concerns only the items naming it.
  const dataError = (e: unknown) => (e instanceof BrokerError && e.code === "invalid_ciphertext") || (isKmsError(e) && e.kind === "invalid");
  const fatal = looked.find((l) => l.error !== undefined && !dataError(l.error));
  if (fatal) throw await dataKeyFailure(ctx, tenant, refusals(), fatal.error, fatal.dataClass);
  const locked = looked.find((l) => l.dataClass.scope.state === "locked");
  if (locked) throw await lockedRefusal(ctx, tenant, refusals(), locked.dataClass);
  const plaintexts: Buffer[] = [];
  let hits = 0;
  let invalid = 0;
  for (const { dekId, dataClass, items: naming, dek, error } of looked) {
    for (const i of naming) {
      const { ciphertext, context, purpose } = input(i);
      const fields = { purpose, bytes: ciphertext.length, dekId, cacheHit: dek?.hit };
      if (!dek) {
        invalid++;
        const reason = error instanceof DataClassMismatchError ? "data_class_mismatch" : error instanceof BrokerError ? "unknown_dek" : "kms_invalid";
        refuse(i, new BrokerError("invalid_ciphertext", error instanceof BrokerError ? error.message : "the stored data key could not be unwrapped for this tenant"), fields, "invalid", reason, dataClass);
        continue;
      }
      let plaintext: Buffer;
      try {
        plaintext = openEnvelope(dek.material, ciphertext, context);
      } catch (e) {
        if (dek.material.destroyed) {
          for (const p of plaintexts) p.fill(0);
          throw await lockedRefusal(ctx, tenant, refusals());
        }
        invalid++;
        refuse(i, new BrokerError("invalid_ciphertext", e instanceof InvalidCiphertextError ? e.message : "ciphertext is invalid"), fields, "invalid", "invalid_ciphertext", dataClass);
        continue;
      }
      plaintexts.push(plaintext);
      results[i] = { ok: true, value: plaintext };
      if (dek.hit) hits++;
      entries.push({ ...itemEntry(scope, i, { ...fields, bytes: plaintext.length }, dataClass), outcome: "success", reason: exceptionReason(grants.get(i) ?? null) });
    }
  }
  await ctx.audit.recordAll(entries).catch((e) => {
    for (const p of plaintexts) p.fill(0);
    throw auditFailure(e);
  });
  const success = plaintexts.length;
  if (hits) ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "success", cache: "hit" }, hits);
  if (success - hits) ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "success", cache: "miss" }, success - hits);
  if (invalid) ctx.metrics.dataRequests.inc({ operation: "decrypt", outcome: "invalid", cache: "hit" }, invalid);
  return results;
}
