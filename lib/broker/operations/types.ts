// What every operation takes: the instance's context (or the part of it the operation uses),
// the authenticated caller, and the request id that links its audit entries.
import type { Caller } from "../../auth/caller";
import type { BrokerContext } from "../context";

export interface OperationBase<C extends Partial<BrokerContext> = BrokerContext> {
  ctx: C;
  actor: Caller;
  requestId?: string;
  /** Set only by the approval executor (lib/broker/quorum/executors.ts): the quorum approved this run. */
  approved?: boolean;
}

/** An operation on one tenant: `tenant` is its slug, as in the URL. */
export interface TenantOperation<C extends Partial<BrokerContext> = BrokerContext> extends OperationBase<C> {
  tenant: string;
}
