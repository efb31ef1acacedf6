// Chain verification, shared by the online check (rows from the database, paged) and the
// offline check of a JSON Lines export. Both feed the same incremental ChainVerifier, so
// neither ever holds the whole log in memory.
import { createPublicKey, type KeyObject } from "node:crypto";
import type { Database } from "../db/database";
import { GENESIS_HASH, chainFieldsOf, hashEntry, type AuditEventRecord } from "./canonical";
import { readEventsAfter } from "./chain";
import { checkpointMessage, listCheckpoints, type AuditCheckpointRecord } from "./checkpoints";
import { assertTenantId } from "./query";
import { shredCertificateProblem } from "./shred-certificate";
import { listPublicKeys, verifySignature, type BrokerPublicKey } from "./signing";

export interface AuditBadEntry {
  /** The first entry that is wrong or missing. */
  seq: number;
  /** Database id of the offending row; null when the entry is missing or the problem is in a line that has none. */
  id: string | null;
  problem: string;
}

export interface AuditVerifyResult {
  ok: boolean;
  /** Entries checked (up to the first problem). */
  count: number;
  firstBadEntry?: AuditBadEntry;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Checkpoints whose signature and hash were checked. */
  checkpoints: number;
  /** Highest seq covered by a valid signed checkpoint; entries after it are chained but not yet signed. */
  signedThroughSeq: number | null;
}

type HashOnlyCheckpoint = Pick<AuditCheckpointRecord, "tenantId" | "seq" | "hash" | "prunedBeforeSeq" | "keyId" | "signature">;

export class ChainVerifier {
  private readonly keys = new Map<string, KeyObject>();
  /** Checkpoints still waiting for the entry at their seq; also the anchors a pruned chain starts from. */
  private readonly pending = new Map<number, HashOnlyCheckpoint[]>();
  private count = 0;
  private checkpoints = 0;
  private firstSeq: number | null = null;
  private lastSeq: number | null = null;
  private lastHash: string | null = null;
  private signedThrough: number | null = null;
  private bad: AuditBadEntry | undefined;

  private readonly tenantId: string;

  constructor(tenantId: string, publicKeys: BrokerPublicKey[]) {
    // Rows come back from PostgreSQL's uuid type in lower case.
    this.tenantId = tenantId.toLowerCase();
    for (const k of publicKeys) this.keys.set(k.keyId, createPublicKey(k.publicKeyPem));
  }

  get failed(): boolean {
    return this.bad !== undefined;
  }

  fail(seq: number, id: string | null, problem: string): false {
    this.bad ??= { seq, id, problem };
    return false;
  }

  addCheckpoint(cp: HashOnlyCheckpoint): boolean {
    if (this.bad) return false;
    if (cp.tenantId !== this.tenantId) return this.fail(cp.seq, null, `checkpoint at seq ${cp.seq} belongs to another tenant`);
    const key = this.keys.get(cp.keyId);
    if (!key) return this.fail(cp.seq, null, `checkpoint at seq ${cp.seq} is signed by unknown key ${cp.keyId}`);
    if (!verifySignature(key, checkpointMessage(cp), cp.signature)) return this.fail(cp.seq, null, `checkpoint at seq ${cp.seq} has an invalid signature`);
    if (cp.prunedBeforeSeq !== null && cp.prunedBeforeSeq !== cp.seq + 1) {
      return this.fail(cp.seq, null, `checkpoint at seq ${cp.seq} has an inconsistent prunedBeforeSeq ${cp.prunedBeforeSeq}`);
    }
    this.checkpoints += 1;
    if (this.lastSeq !== null && cp.seq <= this.lastSeq) {
      if (cp.seq === this.lastSeq) {
        if (cp.hash !== this.lastHash) return this.fail(cp.seq, null, `entry seq ${cp.seq} does not match its signed checkpoint`);
        this.signedThrough = Math.max(this.signedThrough ?? 0, cp.seq);
      }
      // Older than the last entry and not its own: callers hand checkpoints in seq order, so this was already covered.
      return true;
    }
    const list = this.pending.get(cp.seq);
    if (list) list.push(cp);
    else this.pending.set(cp.seq, [cp]);
    return true;
  }

  addEvent(ev: AuditEventRecord): boolean {
    if (this.bad) return false;
    const id = ev.id ?? null;
    if (ev.tenantId !== this.tenantId) return this.fail(ev.seq, id, `entry seq ${ev.seq} belongs to another tenant`);
    let expectedPrev: string;
    if (this.lastSeq === null) {
      if (ev.seq === 1) expectedPrev = GENESIS_HASH;
      else {
        const anchor = this.pending.get(ev.seq - 1)?.[0];
        if (!anchor) {
          return this.fail(ev.seq, id, `chain starts at seq ${ev.seq} but no signed checkpoint vouches for entries before it (missing or pruned without a checkpoint)`);
        }
        expectedPrev = anchor.hash;
        this.pending.delete(ev.seq - 1);
        this.signedThrough = ev.seq - 1;
      }
      this.firstSeq = ev.seq;
    } else {
      if (ev.seq !== this.lastSeq + 1) {
        if (ev.seq > this.lastSeq + 1) {
          return this.fail(this.lastSeq + 1, null, `entry seq ${this.lastSeq + 1} is missing (next present entry is seq ${ev.seq}${id ? `, id ${id}` : ""})`);
        }
        return this.fail(ev.seq, id, `entry seq ${ev.seq} is out of order (after seq ${this.lastSeq})`);
      }
      expectedPrev = this.lastHash!;
    }
    if (ev.prevHash !== expectedPrev) {
      return this.fail(ev.seq, id, `entry seq ${ev.seq}: prev_hash does not match the hash of the entry before it (reordered, replaced or inserted)`);
    }
    if (hashEntry(ev.prevHash, chainFieldsOf(ev)) !== ev.hash) {
      return this.fail(ev.seq, id, `entry seq ${ev.seq}: content does not match its hash (edited)`);
    }
    if (ev.action === "tenant.shred") {
      // A certificate of destruction carries its own signature: a chain rebuilt around an edited one still fails.
      const problem = shredCertificateProblem((ev.detail as { certificate?: unknown } | null)?.certificate, this.tenantId, this.keys);
      if (problem) return this.fail(ev.seq, id, `entry seq ${ev.seq} (certificate of destruction) ${problem}`);
    }
    this.count += 1;
    this.lastSeq = ev.seq;
    this.lastHash = ev.hash;
    const cps = this.pending.get(ev.seq);
    if (cps) {
      this.pending.delete(ev.seq);
      if (cps.some((c) => c.hash !== ev.hash)) return this.fail(ev.seq, id, `entry seq ${ev.seq} does not match its signed checkpoint`);
      this.signedThrough = ev.seq;
    }
    return true;
  }

  /** `untilSeq`: the range checked ends there, so checkpoints beyond it are not expected to be matched. */
  finish(untilSeq?: number): AuditVerifyResult {
    if (!this.bad) {
      const last = this.lastSeq ?? 0;
      const beyond = [...this.pending.keys()].filter((s) => s > last && (untilSeq === undefined || s <= untilSeq)).sort((a, b) => a - b);
      if (beyond.length > 0) {
        this.fail(last + 1, null, `entries from seq ${last + 1} are missing: a signed checkpoint covers seq ${beyond[beyond.length - 1]}`);
      }
    }
    const result: AuditVerifyResult = {
      ok: !this.bad,
      count: this.count,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      checkpoints: this.checkpoints,
      signedThroughSeq: this.signedThrough,
    };
    if (this.bad) result.firstBadEntry = this.bad;
    return result;
  }
}

export interface VerifyTenantOptions {
  pageSize?: number;
  /** Verify only entries up to this seq (used before pruning). */
  untilSeq?: number;
}

/** Walks the tenant's chain in seq order, a page at a time, and checks every stored checkpoint. */
export async function verifyTenantChain(db: Database, tenantId: string, opts: VerifyTenantOptions = {}): Promise<AuditVerifyResult> {
  assertTenantId(tenantId);
  const pageSize = opts.pageSize ?? 5000;
  const until = opts.untilSeq ?? Number.MAX_SAFE_INTEGER;
  const v = new ChainVerifier(tenantId, await listPublicKeys(db));
  for (const cp of await listCheckpoints(db, tenantId, { toSeq: until })) {
    if (!v.addCheckpoint(cp)) return v.finish();
  }
  let after = 0;
  for (;;) {
    const events = await readEventsAfter(db, tenantId, after, pageSize, until);
    for (const ev of events) {
      if (!v.addEvent(ev)) return v.finish();
      after = ev.seq;
    }
    if (events.length < pageSize) break;
  }
  return v.finish(opts.untilSeq);
}

export interface ExportVerifyResult extends AuditVerifyResult {
  tenantId: string | null;
  /** Key ids the checkpoints were checked against. */
  keyIds: string[];
}

/**
 * Verifies a JSON Lines export (see export.ts) line by line. `publicKeys` pins the broker's
 * keys; without it the keys embedded in the header are used, which proves integrity against
 * accidental damage but not against someone who can also replace the header, so pin the key
 * published at /api/v1/audit/public-key when it matters.
 */
export async function verifyExport(lines: AsyncIterable<string> | Iterable<string>, publicKeys?: BrokerPublicKey[]): Promise<ExportVerifyResult> {
  let verifier: ChainVerifier | null = null;
  let tenantId: string | null = null;
  let keyIds: string[] = [];
  let lineNo = 0;
  let lastSeq = 0;
  const failEarly = (problem: string): ExportVerifyResult => ({
    ok: false,
    count: 0,
    firstBadEntry: { seq: lastSeq + 1, id: null, problem },
    firstSeq: null,
    lastSeq: null,
    checkpoints: 0,
    signedThroughSeq: null,
    tenantId,
    keyIds,
  });
  for await (const raw of lines) {
    lineNo += 1;
    const line = raw.trim();
    if (line === "") continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      if (verifier) {
        verifier.fail(lastSeq + 1, null, `line ${lineNo} is not valid JSON`);
        return { ...verifier.finish(), tenantId, keyIds };
      }
      return failEarly(`line ${lineNo} is not valid JSON`);
    }
    if (!verifier) {
      if (obj.type !== "header" || typeof obj.tenantId !== "string" || obj.format !== 1) return failEarly("the first line is not a format-1 export header");
      tenantId = obj.tenantId;
      const embedded = Array.isArray(obj.publicKeys) ? (obj.publicKeys as BrokerPublicKey[]).filter((k) => k && typeof k.publicKeyPem === "string" && typeof k.keyId === "string") : [];
      const keys = publicKeys ?? embedded;
      keyIds = keys.map((k) => k.keyId);
      try {
        verifier = new ChainVerifier(tenantId, keys);
      } catch {
        return failEarly("a public key in the header is not a valid PEM key");
      }
      continue;
    }
    if (obj.type === "event") {
      const ev = obj as unknown as AuditEventRecord;
      if (typeof ev.seq !== "number" || typeof ev.hash !== "string" || typeof ev.prevHash !== "string") {
        verifier.fail(lastSeq + 1, null, `line ${lineNo} is not a well-formed event`);
        return { ...verifier.finish(), tenantId, keyIds };
      }
      if (!verifier.addEvent({ ...ev, id: ev.id === undefined || ev.id === null ? (null as unknown as string) : String(ev.id) })) break;
      lastSeq = ev.seq;
    } else if (obj.type === "checkpoint") {
      if (!verifier.addCheckpoint(obj as unknown as HashOnlyCheckpoint)) break;
    } else {
      verifier.fail(lastSeq + 1, null, `line ${lineNo} has an unknown type`);
      break;
    }
  }
  if (!verifier) return failEarly("the export is empty (no header)");
  return { ...verifier.finish(), tenantId, keyIds };
}
