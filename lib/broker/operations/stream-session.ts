// What the two stream operations share: one stream's audit entries (opened before the first
// output byte, closed with its outcome before the last), the DEK re-acquired when the cached
// copy the stream keyed from is gone (a refresh or eviction: the same DEK again; a lock: the
// stream stops), and the mapping of a frame failure to the API's invalid_ciphertext.
import type { AuditEntryInput } from "../../audit/types";
import type { DataKeyMaterial } from "../../crypto/data-key-material";
import { StreamFrameError } from "../../crypto/stream-frames";
import { BrokerError } from "../errors";
import { classById, type ClassRef, type TenantView } from "../tenant-registry";
import { auditFailure, classDetail } from "../views";
import { admitClassAudited, lockedRefusal, recordRefusal, withDataKey, type Admitted, type ClassSelector, type DataDeps, type DataOp } from "./data-admission";

/** The stream's input: a Node readable (the request) or any async iterable of bytes. */
export type ByteSource = AsyncIterable<Buffer | Uint8Array>;

export class StreamSession {
  private opened = false;
  private closed = false;
  bytes = 0;
  frames = 0;
  dekId: string | undefined;
  cacheHit: boolean | undefined;

  constructor(
    private readonly ctx: DataDeps,
    private readonly admitted: Admitted,
    readonly op: DataOp,
    private readonly requestId: string | undefined,
    private readonly purpose: string | undefined,
    /** The stream's data class: known at once for encrypt, from the stream's header for decrypt (admitClass). */
    private dataClass?: ClassRef,
  ) {}

  /** The class of a stream known from its header, admitted (lock scope, key) and its refusal audited as the stream's entry. */
  async admitClass(selector: ClassSelector): Promise<ClassRef> {
    const dataClass = await this.refusedOnce(() => admitClassAudited(this.ctx, this.admitted, this.op, selector, this.entry()));
    this.dataClass = dataClass;
    return dataClass;
  }

  private detail(d: Record<string, unknown>): Record<string, unknown> {
    return classDetail(this.dataClass, d)!;
  }

  get tenant(): TenantView {
    return this.admitted.tenant;
  }

  private entry(): Omit<AuditEntryInput, "outcome"> & { action: DataOp } {
    const detail = classDetail(this.dataClass);
    return { tenantId: this.tenant.id, actor: this.admitted.actor, action: this.op, purpose: this.purpose, requestId: this.requestId, dekId: this.dekId, cacheHit: this.cacheHit, ...(detail ? { detail } : {}) };
  }

  /** Looks up the stream's DEK, failures audited and mapped as for a single request. */
  async dataKey(load: () => Promise<{ dekId: string; material: DataKeyMaterial; hit: boolean }>): Promise<DataKeyMaterial> {
    const dek = await this.refusedOnce(() => withDataKey(this.ctx, this.tenant, this.entry(), load, this.dataClass));
    this.dekId = dek.dekId;
    this.cacheHit = dek.hit;
    if ((this.dataClass?.scope ?? this.tenant).state === "locked") throw await this.locked();
    return dek.material;
  }

  /** The DEK again, for a stream whose cached copy was destroyed; a lock (fresh from the registry) ends the stream. */
  async reacquire(): Promise<DataKeyMaterial> {
    const fresh = (await this.ctx.registry.getById(this.tenant.id)) ?? this.tenant;
    const freshClass = this.dataClass && (classById(fresh, this.dataClass.id) ?? this.dataClass);
    if ((freshClass?.scope ?? fresh).state === "locked") throw await this.locked(fresh, freshClass);
    const entry = { ...this.entry(), bytes: this.bytes, detail: this.detail({ stream: "closed", frames: this.frames }) };
    const dek = await this.refusedOnce(() =>
      withDataKey(this.ctx, fresh, entry, () => this.ctx.keys.forDecrypt(fresh, this.dekId!, { actor: this.admitted.actor, requestId: this.requestId }, freshClass?.id ?? null), freshClass),
    );
    return dek.material;
  }

  /** withDataKey audits its refusals itself: the stream must not record a second entry for them. */
  private async refusedOnce<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.closed = true;
      throw e;
    }
  }

  private async locked(tenant = this.tenant, dataClass = this.dataClass): Promise<BrokerError> {
    this.closed = true;
    this.ctx.metrics.dataRequests.inc({ operation: this.op, outcome: "locked", cache: "none" });
    return lockedRefusal(this.ctx, tenant, { ...this.entry(), bytes: this.bytes, detail: this.detail({ stream: "closed", frames: this.frames }) }, dataClass);
  }

  /** The key access, durable before the first byte of output. */
  async open(): Promise<void> {
    await this.ctx.audit.record({ ...this.entry(), outcome: "success", detail: this.detail({ stream: "opened" }) }).catch((e) => {
      throw auditFailure(e);
    });
    this.opened = true;
  }

  /** The stream's end, durable before its last byte of output. */
  async succeed(): Promise<void> {
    this.closed = true;
    await this.ctx.audit.record({ ...this.entry(), outcome: "success", bytes: this.bytes, detail: this.detail({ stream: "closed", frames: this.frames }) }).catch((e) => {
      throw auditFailure(e);
    });
    this.ctx.metrics.dataRequests.inc({ operation: this.op, outcome: "success", cache: this.cacheHit ? "hit" : "miss" });
  }

  /** A failure of the stream, audited once (unless its refusal already was), as the API error to answer or abort with. */
  async fail(e: unknown): Promise<unknown> {
    const error = e instanceof StreamFrameError ? new BrokerError("invalid_ciphertext", e.message, {}) : e;
    if (this.closed) return error;
    this.closed = true;
    const invalid = e instanceof StreamFrameError && e.failure !== "key_lost";
    const reason = e instanceof StreamFrameError ? `stream_${e.failure}` : e instanceof BrokerError ? e.code : "stream_aborted";
    this.metric(invalid ? "invalid" : "error");
    // Best effort: the stream fails either way, and a failed audit write must not hide why.
    await recordRefusal(this.ctx, { ...this.entry(), outcome: invalid ? "invalid" : "error", reason, bytes: this.bytes, detail: this.detail({ stream: "closed", frames: this.frames }) }).catch(() => {});
    return error;
  }

  /** Called when the stream ends without success or failure (the client went away). */
  async abandon(): Promise<void> {
    if (this.closed || !this.opened) return;
    await this.fail(new Error("the client closed the stream"));
  }

  metric(outcome: string): void {
    this.ctx.metrics.dataRequests.inc({ operation: this.op, outcome, cache: this.cacheHit ? "hit" : "miss" });
  }
}

export function asBuffer(chunk: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
