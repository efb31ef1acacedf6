// What the two batch operations share: which refusals stay inside one item's result and which
// fail the whole batch (as they would fail a single request), and the entries and metrics of
// the items. Every item is audited as its own key access; the batch's entries are written in
// one group commit (AuditSink.recordAll), after the work and before the answer.
import type { AuditActor, AuditEntryInput } from "../../audit/types";
import { BrokerError, type BrokerErrorCode } from "../errors";
import { PolicyRefusal } from "../governance/data-policy";
import type { ClassRef } from "../tenant-registry";
import { classDetail } from "../views";
import type { DataOp, RefusalEntry } from "./data-admission";

/** An item's result: its value, or the error a single request would have been answered with. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: BrokerError };

/**
 * Refusals that concern one item: its input, its ciphertext, its purpose or scope, a data class
 * the tenant does not have. Anything else (a lock of any class an item names, a class without a
 * key, an outage, the audit log or the database down) fails the whole batch.
 */
const PER_ITEM: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>(["invalid_request", "invalid_ciphertext", "payload_too_large", "forbidden", "purpose_denied", "outside_access_window", "not_found"]);

export function isItemRefusal(e: unknown): e is BrokerError {
  return e instanceof BrokerError && PER_ITEM.has(e.code);
}

export interface BatchScope {
  tenantId: string;
  actor: AuditActor;
  action: DataOp;
  requestId?: string;
  size: number;
}

/** The audit entry of item `index` minus its outcome; `dataClass` (a class other than `default`) goes in its detail. */
export function itemEntry(scope: BatchScope, index: number, fields: Partial<AuditEntryInput> = {}, dataClass?: ClassRef): RefusalEntry & { action: DataOp } {
  const detail = classDetail(dataClass, { batchIndex: index, batchSize: scope.size })!;
  return { ...fields, tenantId: scope.tenantId, actor: scope.actor, action: scope.action, requestId: scope.requestId, detail };
}

/** Item detail for refusal entries of the whole batch (admission), in item order. */
export function itemRefs<T extends { purpose?: string }>(items: ReadonlyArray<BatchResult<T>>) {
  return items.map((it, index) => ({ purpose: it.ok ? it.value.purpose : undefined, detail: { batchIndex: index, batchSize: items.length } }));
}

/** Every item's entry for a refusal of the whole batch (a lock, an outage): the batch failed as one request. `classOf` names an item's class where known. */
export function wholeBatchRefusals<T extends { purpose?: string }>(scope: BatchScope, items: ReadonlyArray<BatchResult<T>>, bytesOf: (v: T) => number, classOf: (i: number) => ClassRef | undefined = () => undefined) {
  return items.map((it, i) => itemEntry(scope, i, it.ok ? { purpose: it.value.purpose, bytes: bytesOf(it.value) } : {}, classOf(i)));
}

/** The reason an item's refusal entry carries: the policy's own reason (purpose_missing, ...) or the error code. */
export function refusalReason(e: BrokerError): string {
  return e instanceof PolicyRefusal ? e.reason : e.code;
}
