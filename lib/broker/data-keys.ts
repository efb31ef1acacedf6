// DEKs: generated here, wrapped by the tenant's KMS key, persisted (wrapped only) before the
// first ciphertext made with them is returned, then served from the DekCache.
//
// Encryptions per DEK are bounded across the whole cluster: each instance reserves blocks of
// uses in the database and retires the DEK for new encryptions at USE_LIMIT, far below the
// 2^32 random-nonce bound of NIST SP 800-38D. Retired DEKs stay decryptable.
import { randomUUID } from "node:crypto";
import type { AuditActor } from "../audit/types";
import { DataKeyMaterial } from "../crypto/data-key-material";
import type { Database } from "../db/database";
import type { KmsProviderName } from "../kms/types";
import type { DekCache } from "./dek-cache";
import { BrokerError } from "./errors";
import type { FailoverMonitor } from "./failover-monitor";
import { unwrapWithFailover } from "./failover-unwrap";
import { startSecondaryWrap } from "./secondary-wrap";
import type { KmsGateway } from "./kms-gateway";
import type { TenantView } from "./tenant-registry";

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
}

export interface RequestMeta {
  actor: AuditActor;
  requestId?: string;
}

export class DataKeyService {
  private current = new Map<string, CurrentDek>();
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

  async forEncrypt(tenant: TenantView, meta: RequestMeta): Promise<DekForUse> {
    const key = tenant.key;
    if (!key) throw new BrokerError("tenant_not_ready", "tenant has no validated key; connect one first");
    let cur = this.current.get(tenant.id);
    let waitedOnWrap = false;
    if (!cur || cur.remaining <= 0 || cur.connectionId !== key.connectionId) {
      let p = this.rolling.get(tenant.id);
      if (!p) {
        p = this.nextDek(tenant, meta).finally(() => this.rolling.delete(tenant.id));
        this.rolling.set(tenant.id, p);
      }
      cur = await p;
      waitedOnWrap = cur.created === true;
    }
    cur.remaining--;
    const { material, hit } = await this.cache.get(tenant.id, cur.dekId, () => this.unwrapStored(tenant, cur.dekId, meta));
    // A DEK generated for this request is put in the cache before the lookup, so the cache calls
    // it a hit; but this request waited on a KMS wrap, and the audit log must say "miss".
    return { dekId: cur.dekId, material, hit: hit && !waitedOnWrap };
  }

  async forDecrypt(tenant: TenantView, dekId: string, meta: RequestMeta): Promise<DekForUse> {
    const { material, hit } = await this.cache.get(tenant.id, dekId, () => this.unwrapStored(tenant, dekId, meta));
    return { dekId, material, hit };
  }

  /** Reserves a new block on the tenant's current DEK, or creates a new DEK when it is exhausted or the key changed. */
  private async nextDek(tenant: TenantView, meta: RequestMeta): Promise<CurrentDek> {
    const key = tenant.key!;
    const candidates = await this.db.query<{ id: string }>(
      `SELECT id FROM data_key WHERE tenant_id = $1 AND key_connection_id = $2 AND retired_at IS NULL ORDER BY created_at DESC LIMIT 1`,
      [tenant.id, key.connectionId],
    );
    const candidate = candidates[0]?.id;
    if (candidate) {
      const reserved = await this.db.query(
        `UPDATE data_key SET uses_reserved = uses_reserved + $3 WHERE id = $1 AND tenant_id = $2 AND retired_at IS NULL AND uses_reserved + $3 <= $4 RETURNING id`,
        [candidate, tenant.id, this.useBlock, this.useLimit],
      );
      if (reserved.length > 0) {
        const cur = { dekId: candidate, connectionId: key.connectionId, remaining: this.useBlock };
        this.current.set(tenant.id, cur);
        return cur;
      }
      await this.db.query(`UPDATE data_key SET retired_at = now() WHERE id = $1 AND tenant_id = $2 AND retired_at IS NULL`, [candidate, tenant.id]);
    }
    return this.createDek(tenant, meta);
  }

  private async createDek(tenant: TenantView, meta: RequestMeta): Promise<CurrentDek> {
    const key = tenant.key!;
    const dekId = randomUUID();
    const material = DataKeyMaterial.generate();
    const plain = material.copy();
    const kmsMeta = { tenantId: tenant.id, actor: meta.actor, requestId: meta.requestId, dekId, dataPath: true };
    // Wrapped under the class's secondary too, beside the primary wrap (lib/broker/secondary-wrap.ts).
    const secondary = tenant.secondary && this.failover ? startSecondaryWrap(this.kms, tenant.secondary, material.copy(), dekContext(tenant.id, dekId), kmsMeta) : null;
    try {
      const wrapped = await this.kms.wrap({ provider: key.provider, keyRef: key.keyRef }, plain, dekContext(tenant.id, dekId), kmsMeta);
      await this.db.prisma.dataKey.create({
        data: {
          id: dekId,
          tenantId: tenant.id,
          keyConnectionId: key.connectionId,
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
    this.cache.put(tenant.id, dekId, material);
    const cur = { dekId, connectionId: key.connectionId, remaining: this.useBlock, created: true };
    this.current.set(tenant.id, cur);
    return cur;
  }

  /**
   * Loads a wrapped DEK of this tenant (and the key that wrapped it), with its form under the
   * class's connected secondary key if it has one, in one query, and unwraps it: the primary
   * first, the secondary when the primary is unavailable or slow (lib/broker/failover-unwrap.ts).
   */
  private async unwrapStored(tenant: TenantView, dekId: string, meta: RequestMeta): Promise<DataKeyMaterial> {
    const rows = await this.db.query<{
      wrapped_key: Buffer | Uint8Array;
      provider: KmsProviderName;
      key_ref: string;
      data_class_id: string | null;
      s_wrapped: Buffer | Uint8Array | null;
      s_provider: KmsProviderName | null;
      s_key_ref: string | null;
    }>(
      `SELECT d.wrapped_key, k.provider::text AS provider, k.key_ref, d.data_class_id, s.wrapped_key AS s_wrapped, s.provider AS s_provider, s.key_ref AS s_key_ref
         FROM data_key d JOIN key_connection k ON k.id = d.key_connection_id
         LEFT JOIN LATERAL (
           SELECT w.wrapped_key, ks.provider::text AS provider, ks.key_ref FROM data_key_wrap w
             JOIN key_connection ks ON ks.id = w.key_connection_id AND ks.tenant_id = w.tenant_id AND ks.status = 'connected' AND ks.role = 'secondary'
            WHERE w.dek_id = d.id AND w.tenant_id = d.tenant_id
            ORDER BY ks.created_at DESC LIMIT 1) s ON true
        WHERE d.id = $1 AND d.tenant_id = $2`,
      [dekId, tenant.id],
    );
    const row = rows[0];
    if (!row) throw new BrokerError("invalid_ciphertext", "ciphertext refers to a data key this tenant does not have");
    const kmsMeta = { tenantId: tenant.id, actor: meta.actor, requestId: meta.requestId, dekId, dataPath: true };
    const primary = { key: { provider: row.provider, keyRef: row.key_ref }, wrapped: Buffer.from(row.wrapped_key) };
    const secondary = row.s_wrapped && row.s_provider && row.s_key_ref ? { key: { provider: row.s_provider, keyRef: row.s_key_ref }, wrapped: Buffer.from(row.s_wrapped) } : null;
    if (!this.failover || !secondary) return this.kms.unwrapDataKey(primary.key, primary.wrapped, dekContext(tenant.id, dekId), kmsMeta);
    return unwrapWithFailover(
      { kms: this.kms, failover: this.failover.monitor, hedgeMs: this.failover.hedgeMs },
      { tenantId: tenant.id, classId: row.data_class_id, primary, secondary },
      dekContext(tenant.id, dekId),
      kmsMeta,
    );
  }

  forgetTenant(tenantId: string): void {
    this.current.delete(tenantId);
  }

  async countForTenant(tenantId: string): Promise<number> {
    return this.db.prisma.dataKey.count({ where: { tenantId } });
  }
}
