// Admission runs in Fastify's onRequest hook, before the body is read: it resolves and authorizes
// the caller, so an unauthenticated megabyte is refused with 401 without being parsed (bodies used
// to be parsed and validated first). It also bounds what one caller can cost everyone else:
// database lookups of unknown tokens per client address, and data requests in flight per tenant.
// Nothing here queries the database for a known token: the token store's caches answer.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AuthRefusalRecorder, AuthRefusalReason } from "../broker/auth-refusals";
import { BrokerError } from "../broker/errors";
import type { Action } from "../auth/permissions";
import type { BrokerContext } from "../broker/context";
import { authorize, resolveCaller, type Caller, type ConsoleSessionResolver } from "./auth";
import { KeyedTokenBucket } from "./request-guards";
import type { AnyRouteDef } from "./route-def";

export interface AdmissionOptions {
  /** Data requests (encrypt, decrypt) of one tenant in flight on this instance; more get 429. */
  maxInflightPerTenant: number;
  /** Database lookups of unknown service tokens per client address: burst, then per second. */
  tokenLookupBurst?: number;
  tokenLookupsPerSecond?: number;
}

/** What admission reads of the API's environment (a structural subset of RouteEnv, lib/http/route.ts). */
export interface AdmissionEnv {
  ctx: BrokerContext;
  adminTokenHash: Buffer | undefined;
  resolveSession?: ConsoleSessionResolver;
}

interface Admitted {
  caller: Caller | null;
  params: unknown;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export class RequestAdmission {
  private readonly admitted = new WeakMap<FastifyRequest, Admitted>();
  private readonly inflight = new Map<string, number>();
  private readonly tokenLookups: KeyedTokenBucket;

  constructor(
    private readonly env: AdmissionEnv,
    readonly refusals: AuthRefusalRecorder,
    private readonly opts: AdmissionOptions,
  ) {
    this.tokenLookups = new KeyedTokenBucket({ burst: opts.tokenLookupBurst ?? 100, perSecond: opts.tokenLookupsPerSecond ?? 20 });
    env.ctx.metrics.gauge("cmek_service_token_lookups", "Database lookups of service-token prefixes not cached, since start", () => env.ctx.tokens.stats.lookups);
    env.ctx.metrics.gauge("cmek_service_token_miss_cache_entries", "Unknown token prefixes remembered", () => env.ctx.tokens.missCacheSize);
    env.ctx.metrics.gauge("cmek_tenant_inflight_requests", "Data requests in flight on this instance, all tenants", () => {
      let n = 0;
      for (const v of this.inflight.values()) n += v;
      return n;
    });
  }

  /** The onRequest hook of a non-public route. Throws the refusal (the error handler answers it). */
  async admit(req: FastifyRequest, reply: FastifyReply, def: AnyRouteDef): Promise<void> {
    const params = def.params ? def.params.parse(req.params) : req.params;
    this.limitTokenLookups(req, def, params);
    const caller = await resolveCaller(req, this.env.ctx, this.env.adminTokenHash, this.env.resolveSession);
    try {
      authorize(caller, def.access as Action, (params as { slug?: string }).slug);
    } catch (error) {
      if (caller) await def.onRefused?.({ params, requestId: req.id, error, caller });
      else this.noteUnauthenticated(req, def, params, req.headers.authorization !== undefined || req.headers.cookie !== undefined ? "invalid_credentials" : "missing_credentials");
      throw error;
    }
    if ((def.access === "data.encrypt" || def.access === "data.decrypt") && caller?.kind === "service") this.enterTenant(caller.tenantId, reply);
    this.admitted.set(req, { caller, params });
  }

  /** What admit() resolved for this request. */
  admittedOf(req: FastifyRequest): Admitted | undefined {
    return this.admitted.get(req);
  }

  private noteUnauthenticated(req: FastifyRequest, def: AnyRouteDef, params: unknown, reason: AuthRefusalReason): void {
    const slug = (params as { slug?: string }).slug;
    // Data routes (the ones that audit refusals) get their tenant's summary; the rest only count.
    // The operation is the route's action (its batch and stream forms count as the operation itself).
    const operation = def.access === "data.encrypt" ? "encrypt" : def.access === "data.decrypt" ? "decrypt" : ((req.routeOptions.url ?? "").split("/").pop() ?? "?");
    const tenant = def.onRefused && slug ? { slug, operation } : undefined;
    this.refusals.note(reason, tenant);
  }

  /**
   * A token whose prefix neither cache knows costs a database query; each client address gets a
   * budget of those. Tokens already cached (every token in use) are never limited.
   */
  private limitTokenLookups(req: FastifyRequest, def: AnyRouteDef, params: unknown): void {
    const header = req.headers.authorization;
    if (header === undefined) return;
    const token = BEARER.exec(header)?.[1];
    if (!token || !this.env.ctx.tokens.needsLookup(token)) return;
    const wait = this.tokenLookups.take(req.ip);
    if (wait === 0) return;
    this.noteUnauthenticated(req, def, params, "rate_limited");
    throw new BrokerError("too_many_requests", "too many unknown tokens from this address; retry later", {}, wait);
  }

  /** Counts a data request of the tenant until its response closes (sent or aborted). */
  private enterTenant(tenantId: string, reply: FastifyReply): void {
    const n = this.inflight.get(tenantId) ?? 0;
    if (n >= this.opts.maxInflightPerTenant) {
      throw new BrokerError("too_many_requests", `this tenant has ${n} requests in flight on this instance; retry shortly`, {}, 1);
    }
    // Aborted already: no close event will come to release the slot, and nothing will be sent.
    if (reply.raw.closed) return;
    this.inflight.set(tenantId, n + 1);
    reply.raw.once("close", () => {
      const left = (this.inflight.get(tenantId) ?? 1) - 1;
      if (left <= 0) this.inflight.delete(tenantId);
      else this.inflight.set(tenantId, left);
    });
  }
}
