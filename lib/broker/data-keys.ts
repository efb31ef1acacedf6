// DEKs: generated here, wrapped by the KMS key of their data class (the tenant's key for
// `default`), persisted (wrapped only) before the first ciphertext made with them is returned,
// then served from the DekCache. Each class has its own current DEK; a DEK serves one class only
// (data_key.data_class_id), and a lookup names the class it expects, so a ciphertext cannot be
// opened as another class's (checked against the stored row before any unwrap).
//
// Encryptions per DEK are bounded across the whole cluster: each instance reserves blocks of
// uses in the database and retires the DEK for new encryptions at USE_LIMIT, far below the
// 2^32 random-nonce bound of NIST SP 800-38D. Retired DEKs stay decryptable.
import { randomUUID } from "node:crypto";
import type { AuditActor } from "../audit/types";
import { DataKeyMaterial } from "../crypto/data-key-material";
import type { Database } from "../db/database";
import type { KmsProviderName } from "../kms/types";
import type { CachedDek, DekCache } from "./dek-cache";
import { BrokerError } from "./errors";
import type { FailoverMonitor } from "./failover-monitor";
import { unwrapWithFailover } from "./failover-unwrap";
import { startSecondaryWrap } from "./secondary-wrap";
import type { KmsGateway } from "./kms-gateway";
import { notReadyError } from "./views";
import { classByName, DEFAULT_CLASS, type ClassRef, type TenantView } from "./tenant-registry";

export const USE_LIMIT = 2 ** 30;
export const USE_BLOCK = 1_000_000;

export function dekContext(tenantId: string, dekId: string): Record<string, string> {
  return { tenant: tenantId, dek: dekId };
}

interface CurrentDek {
  dekId: string;
  connectionId: string;
  remaining: number;
  /** Set when the roll that produced this entry generated and wrapped a new DEK (a KMS call). */
  created?: boolean;
}

export interface DekForUse {
  dekId: string;
  material: DataKeyMaterial;
  hit: boolean;
  /** The DEK's data class (data_key.data_class_id; null: `default`), as cached or as stored. */
  dataClassId: string | null;
}

export interface RequestMeta {
  actor: AuditActor;
  requestId?: string;
}

/** A ciphertext whose header names one data class while its DEK serves another (or a format 1 record of a class's DEK). */
export class DataClassMismatchError extends BrokerError {
  constructor(
    /** The class the DEK really serves (null: `default`). */
    readonly storedClassId: string | null,
  ) {
    super("invalid_ciphertext", "ciphertext names another data class");
  }
}

/** A DEK as stored, with every wrapped form of it, read in one query: what an unwrap needs. */
export interface StoredDek {
  dekId: string;
  dataClassId: string | null;
  /** The form under the key connection that created it (its class's primary then; data_key.wrapped_key). */
  wrappedKey: Buffer;
  connection: { connectionId: string; provider: KmsProviderName; keyRef: string };
  /** Its forms under connected secondary keys of its class (data_key_wrap). */
  secondaryForms: Array<{ connectionId: string; provider: KmsProviderName; keyRef: string; wrappedKey: Buffer }>;
}

type StoredRow = {
  wrapped_key: Buffer | Uint8Array;
  data_class_id: string | null;
  connection_id: string;
  provider: KmsProviderName;
  key_ref: string;
  secondary_id: string | null;
  secondary_provider: KmsProviderName | null;
  secondary_key_ref: string | null;
  secondary_wrapped: Buffer | Uint8Array | null;
};

/** The key of a class in the per-tenant maps: its data_class id, or "default" (never a UUID). */
function classKey(dataClass: ClassRef): string {
  return dataClass.id ?? DEFAULT_CLASS;
}

export class DataKeyService {
  /** The current DEK for encryption, by tenant id, then class (classKey). */
  private current = new Map<string, Map<string, CurrentDek>>();
  /** Rolls to a new block or DEK in flight, by the class's primary key connection id (one per tenant and class). */
  private rolling = new Map<string, Promise<CurrentDek>>();

  constructor(
    private readonly db: Database,
    private readonly cache: DekCache,
    private readonly kms: KmsGateway,
    private readonly useBlock = USE_BLOCK,
    private readonly useLimit = USE_LIMIT,
    /** Failover to a class's secondary key (issue 12); without it unwraps use the primary only. */
    private readonly failover: { monitor: FailoverMonitor; hedgeMs: number } | null = null,
  ) {}

  /** A DEK of `dataClass` (default: the tenant's `default` class) for one encryption, wrapped under the class's primary key. */
  async forEncrypt(tenant: TenantView, meta: RequestMeta, dataClass: ClassRef = classByName(tenant, undefined)!): Promise<DekForUse> {
    const key = dataClass.scope.key;
    if (!key) throw notReadyError(dataClass);
    let cur = this.current.get(tenant.id)?.get(classKey(dataClass));
    let waitedOnWrap = false;
    if (!cur || cur.remaining <= 0 || cur.connectionId !== key.connectionId) {
      let p = this.rolling.get(key.connectionId);
      if (!p) {
        p = this.nextDek(tenant, dataClass, meta).finally(() => this.rolling.delete(key.connectionId));
        this.rolling.set(key.connectionId, p);
      }
      cur = await p;
      waitedOnWrap = cur.created === true;
    }
    cur.remaining--;
    const dekId = cur.dekId;
    const got = await this.cache.get(tenant.id, dekId, () => this.loadAndUnwrap(tenant, dekId, dataClass.id, meta), dataClass.id);
    if (got.classId !== dataClass.id) throw new DataClassMismatchError(got.classId);
    // A DEK generated for this request is put in the cache before the lookup, so the cache calls
    // it a hit; but this request waited on a KMS wrap, and the audit log must say "miss".
    return { dekId, material: got.material, hit: got.hit && !waitedOnWrap, dataClassId: got.classId };
  }

  /**
   * The DEK a ciphertext names, for the class its header names (`classId`; null: `default`).
   * A DEK of another class is refused (DataClassMismatchError) before any unwrap: a lock or
   * scope check made for the header's class is then a check of the DEK's own class.
   */
  async forDecrypt(tenant: TenantView, dekId: string, meta: RequestMeta, classId: string | null = null): Promise<DekForUse> {
    const lookup = () => this.cache.get(tenant.id, dekId, () => this.loadAndUnwrap(tenant, dekId, classId, meta), classId);
    let got: CachedDek;
    try {
      got = await lookup();
    } catch (e) {
      // This request joined a load made for another class's (forged) header naming the same DEK,
      // which was refused; the DEK is this request's class, so it loads it itself.
      if (!(e instanceof DataClassMismatchError) || e.storedClassId !== classId) throw e;
      got = await lookup();
    }
    if (got.classId !== classId) throw new DataClassMismatchError(got.classId);
    return { dekId, material: got.material, hit: got.hit, dataClassId: got.classId };
  }

  /** Reserves a new block on the class's current DEK, or creates a new DEK when it is exhausted or the key changed. */
  private async nextDek(tenant: TenantView, dataClass: ClassRef, meta: RequestMeta): Promise<CurrentDek> {
    const key = dataClass.scope.key!;
    const candidates = await this.db.query<{ id: string }>(
      `SELECT id FROM data_key WHERE tenant_id = $1 AND key_connection_id = $2 AND data_class_id IS NOT DISTINCT FROM $3::uuid AND retired_at IS NULL ORDER BY created_at DESC LIMIT 1`,
      [tenant.id, key.connectionId, dataClass.id],
    );
    const candidate = candidates[0]?.id;
    if (candidate) {
      const reserved = await this.db.query(
        `UPDATE data_key SET uses_reserved = uses_reserved + $3 WHERE id = $1 AND tenant_id = $2 AND retired_at IS NULL AND uses_reserved + $3 <= $4 RETURNING id`,
        [candidate, tenant.id, this.useBlock, this.useLimit],
      );
      if (reserved.length > 0) return this.setCurrent(tenant.id, dataClass, { dekId: candidate, connectionId: key.connectionId, remaining: this.useBlock });
      await this.db.query(`UPDATE data_key SET retired_at = now() WHERE id = $1 AND tenant_id = $2 AND retired_at IS NULL`, [candidate, tenant.id]);
    }
    return this.createDek(tenant, dataClass, meta);
  }

  private setCurrent(tenantId: string, dataClass: ClassRef, cur: CurrentDek): CurrentDek {
    let byClass = this.current.get(tenantId);
    if (!byClass) {
      byClass = new Map();
      this.current.set(tenantId, byClass);
    }
    byClass.set(classKey(dataClass), cur);
    return cur;
  }

  private async createDek(tenant: TenantView, dataClass: ClassRef, meta: RequestMeta): Promise<CurrentDek> {
    const key = dataClass.scope.key!;
    const dekId = randomUUID();
    const material = DataKeyMaterial.generate();
    const plain = material.copy();
    const kmsMeta = { tenantId: tenant.id, actor: meta.actor, requestId: meta.requestId, dekId, dataPath: true };
    // Wrapped under the class's secondary too, beside the primary wrap (lib/broker/secondary-wrap.ts).
    const secondary = dataClass.scope.secondary && this.failover ? startSecondaryWrap(this.kms, dataClass.scope.secondary, material.copy(), dekContext(tenant.id, dekId), kmsMeta) : null;
    try {
      const wrapped = await this.kms.wrap({ provider: key.provider, keyRef: key.keyRef }, plain, dekContext(tenant.id, dekId), kmsMeta);
      await this.db.prisma.dataKey.create({
        data: {
          id: dekId,
          tenantId: tenant.id,
          keyConnectionId: key.connectionId,
          dataClassId: dataClass.id,
          wrappedKey: new Uint8Array(wrapped.wrapped),
          keyVersion: wrapped.keyVersion,
          wrappedByKey: wrapped.wrappedByKey ?? null,
          usesReserved: BigInt(this.useBlock),
        },
      });
      await secondary?.store(this.db, this.failover?.hedgeMs ?? 0);
    } catch (e) {
      material.destroy();
      throw e;
    } finally {
      plain.fill(0);
    }
    this.cache.put(tenant.id, dekId, material, dataClass.id);
    return this.setCurrent(tenant.id, dataClass, { dekId, connectionId: key.connectionId, remaining: this.useBlock, created: true });
  }

  /** A cache miss: the stored DEK, refused if it is not of the class the lookup named, then unwrapped. */
  private async loadAndUnwrap(tenant: TenantView, dekId: string, classId: string | null, meta: RequestMeta): Promise<DataKeyMaterial> {
    const stored = await this.loadStored(tenant, dekId);
    if (stored.dataClassId !== classId) throw new DataClassMismatchError(stored.dataClassId);
    return this.unwrapStored(tenant, stored, meta);
  }

  /** Reads a DEK of this tenant with every wrapped form of it (the creating key's, and each connected secondary's) in one query. */
  private async loadStored(tenant: TenantView, dekId: string): Promise<StoredDek> {
    const rows = await this.db.query<StoredRow>(
      `SELECT d.wrapped_key, d.data_class_id, k.id AS connection_id, k.provider::text AS provider, k.key_ref,
              s.id AS secondary_id, s.provider::text AS secondary_provider, s.key_ref AS secondary_key_ref, w.wrapped_key AS secondary_wrapped
         FROM data_key d
         JOIN key_connection k ON k.id = d.key_connection_id
         LEFT JOIN data_key_wrap w ON w.dek_id = d.id AND w.tenant_id = d.tenant_id
         LEFT JOIN key_connection s ON s.id = w.key_connection_id AND s.tenant_id = d.tenant_id AND s.status = 'connected' AND s.role = 'secondary'
        WHERE d.id = $1 AND d.tenant_id = $2`,
      [dekId, tenant.id],
    );
    const row = rows[0];
    if (!row) throw new BrokerError("invalid_ciphertext", "ciphertext refers to a data key this tenant does not have");
    return {
      dekId,
      dataClassId: row.data_class_id,
      wrappedKey: Buffer.from(row.wrapped_key),
      connection: { connectionId: row.connection_id, provider: row.provider, keyRef: row.key_ref },
      secondaryForms: rows
        .filter((r) => r.secondary_id !== null && r.secondary_wrapped !== null)
        .map((r) => ({ connectionId: r.secondary_id!, provider: r.secondary_provider!, keyRef: r.secondary_key_ref!, wrappedKey: Buffer.from(r.secondary_wrapped!) })),
    };
  }

  /**
   * Unwraps a stored DEK: through the KMS of the key that wrapped it, and, when the DEK has a form
   * under its class's connected secondary, failing over to that one if the primary is unavailable
   * or slower than the hedge budget (lib/broker/failover-unwrap.ts).
   */
  private async unwrapStored(tenant: TenantView, stored: StoredDek, meta: RequestMeta): Promise<DataKeyMaterial> {
    const { provider, keyRef } = stored.connection;
    const context = dekContext(tenant.id, stored.dekId);
    const kmsMeta = { tenantId: tenant.id, actor: meta.actor, requestId: meta.requestId, dekId: stored.dekId, dataPath: true };
    const form = stored.secondaryForms[0];
    if (!this.failover || !form) return this.kms.unwrapDataKey({ provider, keyRef }, stored.wrappedKey, context, kmsMeta);
    return unwrapWithFailover(
      { kms: this.kms, failover: this.failover.monitor, hedgeMs: this.failover.hedgeMs },
      {
        tenantId: tenant.id,
        classId: stored.dataClassId,
        primary: { key: { provider, keyRef }, wrapped: stored.wrappedKey },
        secondary: { key: { provider: form.provider, keyRef: form.keyRef }, wrapped: form.wrappedKey },
      },
      context,
      kmsMeta,
    );
  }

  forgetTenant(tenantId: string): void {
    this.current.delete(tenantId);
  }

  /** Forgets the current DEK of one class (null: `default`), e.g. once its key changed. */
  forgetClass(tenantId: string, classId: string | null): void {
    this.current.get(tenantId)?.delete(classId ?? DEFAULT_CLASS);
  }

  async countForTenant(tenantId: string): Promise<number> {
    return this.db.prisma.dataKey.count({ where: { tenantId } });
  }
}
