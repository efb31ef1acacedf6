// Scenario 4: time-to-lock. Three broker instances on one PostgreSQL database, probe interval 1 s.
// (a) Revocations at the emulators (one tenant and key per provider × kind, all at once), while
//     a decrypt loop runs against instance A: time from issuing the revocation call to the first
//     423 seen by the loop. The probe may run on any of the three instances (cluster-wide schedule).
// (b) Kill switch on A while loops run on B and C: time from the lock call's return (and from its
//     start) to the first 423 on each of the other instances, and the fan-out A records (until
//     both peers acknowledged the lock; test/revocation/cluster.test.ts checks it is recorded).
// (c) Push-to-probe: a fourth instance on its own database probing on schedule only every 10
//     minutes, so only the push can find a revocation: time from posting an Event Grid event
//     about a revoked key to the probe detecting it (the lock's detectedAt; test/revocation/
//     push.test.ts checks the push locks, this measures how fast).
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { ms, type Mode, type Section } from "./lib/report";
import { readyTenant, type ApiClient, type Stack } from "./lib/stack";
import { median, percentile, sleep } from "./lib/stats";
import { kmipTimeToLockRows } from "./lib/kmip";
import { pool } from "./lib/tenants";

type Ready = Awaited<ReturnType<typeof readyTenant>>;

type Kind = { provider: "aws" | "azure" | "gcp" | "pkcs11"; kind: string; revoke: (s: Stack, t: Ready) => Promise<unknown> };

const KINDS: Kind[] = [
  { provider: "aws", kind: "disable key", revoke: (s, t) => s.aws.disable(t.keyId) },
  { provider: "aws", kind: "schedule deletion", revoke: (s, t) => s.aws.scheduleDeletion(t.keyId) },
  { provider: "aws", kind: "revoke grant", revoke: (s, t) => s.aws.revokeGrant(t.keyId, t.grantId!) },
  { provider: "azure", kind: "disable key", revoke: (s, t) => s.azure.setEnabled(t.keyId, false) },
  { provider: "azure", kind: "delete key", revoke: (s, t) => s.azure.delete(t.keyId) },
  { provider: "azure", kind: "remove access", revoke: (s, t) => s.azure.setVendorAccess(t.keyId, false) },
  { provider: "gcp", kind: "disable version", revoke: (s, t) => s.gcp.setVersionState(t.keyId, "DISABLED") },
  { provider: "gcp", kind: "destroy version", revoke: (s, t) => s.gcp.destroyVersion(t.keyId) },
  { provider: "gcp", kind: "remove IAM binding", revoke: (s, t) => s.gcp.setVendorBinding(t.keyId, false) },
];

// SoftHSM2, when installed: the tenant's actions on its token from this process (the brokers are
// children and see them). A changed PIN is not in this list: SoftHSM2 keeps a process's PIN in
// memory, so a PIN changed by another process never reaches the brokers (test/kms/pkcs11.test.ts
// measures that kind in one process).
const PKCS11_KINDS: Kind[] = [
  { provider: "pkcs11", kind: "destroy key object", revoke: (s, t) => Promise.resolve(s.softhsm!.hsm.destroyKey(s.softhsm!.token, t.counterKey)) },
  { provider: "pkcs11", kind: "clear CKA_DECRYPT", revoke: (s, t) => Promise.resolve(s.softhsm!.hsm.setUsage(s.softhsm!.token, t.counterKey, { decrypt: false })) },
];

/** Decrypts in `workers` parallel loops until the first 423 (or `timeoutMs`); resolves with its performance.now() time. */
function untilLocked(api: ApiClient, slug: string, token: string, ciphertext: string, workers: number, timeoutMs: number) {
  let first: number | null = null;
  const others: number[] = [];
  const deadline = performance.now() + timeoutMs;
  const loop = async () => {
    while (first === null && performance.now() < deadline) {
      const r = await api.decrypt(slug, token, ciphertext);
      if (r.status === 423) first ??= performance.now();
      else if (r.status !== 200) others.push(r.status);
    }
  };
  return Promise.all(Array.from({ length: workers }, loop)).then(() => ({ at: first, others }));
}

export async function timeToLock(stack: Stack, mode: Mode): Promise<Section> {
  const db = await stack.database();
  const env = { BROKER_PROBE_INTERVAL_MS: "1000" };
  const start = (id: string) => stack.broker(db.url, { ...env, BROKER_INSTANCE_ID: `ttl-${id}` });
  const [a, b, c] = await Promise.all([start("A"), start("B"), start("C")]);
  const rows: Section["rows"] = [];
  const data: Record<string, unknown> = {};
  const plaintext = randomBytes(1024);

  // (a) revocations at the emulators (and on the SoftHSM2 token)
  const reps = mode.quick ? 1 : 4;
  const kinds = stack.softhsm ? [...KINDS, ...PKCS11_KINDS] : KINDS;
  const samples = new Map<string, number[]>(kinds.map((k) => [`${k.provider} ${k.kind}`, []]));
  const misses: string[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const prepared = await pool(kinds, 3, async (k, i) => {
      const t = await readyTenant(stack, a.api, `ttl-${rep}-${i}`, k.provider);
      const ct: string = (await a.api.encrypt(t.slug, t.token, plaintext)).body.ciphertext;
      return { k, t, ct };
    });
    // Let each tenant's key be registered as active and probed once, as in steady state.
    await sleep(2000);
    await Promise.all(
      prepared.map(async ({ k, t, ct }) => {
        const watching = untilLocked(a.api, t.slug, t.token, ct, 2, 15_000);
        const t0 = performance.now();
        await k.revoke(stack, t);
        const { at, others } = await watching;
        if (at === null) misses.push(`${k.provider} ${k.kind}: no 423 within 15 s (other answers: ${others.join(",") || "none"})`);
        else samples.get(`${k.provider} ${k.kind}`)!.push(at - t0);
      }),
    );
  }
  const all = [...samples.values()].flat();
  rows.push([`revocation → first 423, all kinds: p50 / p99 (n=${all.length})`, `${ms(percentile(all, 50))} / ${ms(percentile(all, 99))}`]);
  for (const [kind, xs] of samples) rows.push([`  ${kind}: median / max (n=${xs.length})`, `${ms(median(xs))} / ${ms(Math.max(...xs))}`]);
  data.revocation = Object.fromEntries(samples);

  // (b) kill-switch fan-out
  const lockReps = mode.quick ? 3 : 10;
  const t = await readyTenant(stack, a.api, "ttl-kill", "aws");
  const ct: string = (await a.api.encrypt(t.slug, t.token, plaintext)).body.ciphertext;
  const fromReturn: number[] = [];
  const fromStart: number[] = [];
  const recordedFanout: number[] = [];
  for (let i = 0; i < lockReps; i++) {
    // Warm: the DEK cached on B and C, answers 200 there.
    for (const x of [b, c]) {
      for (let tries = 0; (await x.api.decrypt(t.slug, t.token, ct)).status !== 200; tries++) {
        if (tries > 200) throw new Error("kill switch: tenant did not resume on every instance");
        await sleep(20);
      }
    }
    const watchers = [b, c].map((x) => untilLocked(x.api, t.slug, t.token, ct, 4, 10_000));
    await sleep(200);
    const s0 = performance.now();
    const lock = await a.api.admin("POST", `/api/v1/tenants/${t.slug}/lock`, { reason: `bench kill switch ${i}` });
    const r0 = performance.now();
    if (lock.status !== 200) throw new Error(`lock: ${lock.status} ${JSON.stringify(lock.body)}`);
    for (const w of await Promise.all(watchers)) {
      if (w.at === null) misses.push("kill switch: no 423 within 10 s");
      else {
        fromReturn.push(w.at - r0);
        fromStart.push(w.at - s0);
      }
    }
    // The fan-out is written to the lock's transition once both peers acknowledged (null if one did not within 3 s).
    for (let tries = 0; ; tries++) {
      const last = (await a.api.admin("GET", `/api/v1/tenants/${t.slug}/status`)).body.lastLock;
      if (last?.reason === `kill_switch: bench kill switch ${i}` && typeof last.fanoutMs === "number") {
        recordedFanout.push(last.fanoutMs);
        break;
      }
      if (tries > 200) {
        misses.push(`kill switch ${i}: no fan-out recorded (${JSON.stringify(last)})`);
        break;
      }
      await sleep(20);
    }
    const un = await a.api.admin("POST", `/api/v1/tenants/${t.slug}/unlock`);
    if (un.status !== 200) throw new Error(`unlock: ${un.status} ${JSON.stringify(un.body)}`);
  }
  rows.push([`kill switch on A → first 423 on B/C, from lock return: p50 / p99 (n=${fromReturn.length})`, `${ms(percentile(fromReturn, 50))} / ${ms(percentile(fromReturn, 99))}`]);
  rows.push(["  same, from lock call start: p50 / p99", `${ms(percentile(fromStart, 50))} / ${ms(percentile(fromStart, 99))}`]);
  rows.push(["  lock call duration: median", ms(median(fromStart.map((x, i) => x - fromReturn[i]!)))]);
  rows.push([`  fan-out recorded by A (both peers acked): p50 / p99 (n=${recordedFanout.length})`, `${ms(percentile(recordedFanout, 50))} / ${ms(percentile(recordedFanout, 99))}`, "100 ms"]);
  data.killSwitch = { fromReturn, fromStart, recordedFanout };
  await Promise.all([a, b, c].map((x) => x.stop()));

  // (c) push-to-probe
  const push = await pushToProbe(stack, mode.quick ? 3 : 10, misses);
  rows.push([`push event posted → probe detected the revocation: median / max (n=${push.length})`, `${ms(median(push))} / ${ms(Math.max(...push))}`, "100 ms"]);
  data.pushToProbe = push;
  // (d) KMIP revocations on PyKMIP, one instance, probe interval 1 s.
  rows.push(...(await kmipTimeToLockRows(stack, db.url, mode)));
  return {
    title: "4. Time-to-lock (3 instances on one PostgreSQL, probe interval 1 s; push on a 4th, probe interval 10 min)",
    rows,
    notes: [
      `${reps} round(s) of all ${kinds.length} revocation kinds at once (each its own tenant and key); time measured from issuing the revocation call (SDK round trip included) to the first 423 answered to the decrypt loop (2 loops per tenant on instance A).`,
      stack.softhsm ? "pkcs11 kinds: keys on a SoftHSM2 token, revoked through pkcs11js from the benchmark process." : "pkcs11 kinds skipped: SoftHSM2 (Debian softhsm2) is not installed.",
      "a negative 'from lock return' means B/C refused before the lock call had returned to the caller (the lock waits for the fan-out).",
      ...misses,
    ],
    data,
  };
}

/** Azure Event Grid pushes about revoked keys to an instance whose scheduled probe is 10 minutes away. */
export async function pushToProbe(stack: Stack, reps: number, misses: string[]): Promise<number[]> {
  const db = await stack.database();
  const secret = randomBytes(24).toString("hex");
  const d = await stack.broker(db.url, { BROKER_PROBE_INTERVAL_MS: "600000", BROKER_INSTANCE_ID: "ttl-push", BROKER_EVENTGRID_SECRET: secret });
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const out: number[] = [];
  try {
    for (let i = 0; i < reps; i++) {
      const t = await readyTenant(stack, d.api, `ttl-push-${i}`, "azure");
      await d.api.encrypt(t.slug, t.token, randomBytes(64));
      // A new key is probed once at once, then in 10 minutes: revoking after that first probe leaves the push alone.
      for (let tries = 0; ; tries++) {
        const r = await sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM key_probe p JOIN tenant t ON t.id = p.tenant_id
            WHERE t.slug = $1 AND p.next_probe_at > now() + interval '1 minute' AND p.lease_until IS NULL`,
          [t.slug],
        );
        if (r.rows[0]!.n > 0) break;
        if (tries > 250) throw new Error(`push-to-probe: no scheduled probe of ${t.slug} within 5 s`);
        await sleep(20);
      }
      await stack.azure.setVendorAccess(t.keyId, false);
      const name = t.keyId.split("/").pop();
      const event = [
        {
          id: randomUUID(),
          topic: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v",
          subject: name,
          eventType: "Microsoft.KeyVault.KeyNewVersionCreated",
          eventTime: new Date().toISOString(),
          data: { Id: `${t.keyId}/0123456789abcdef`, VaultName: "v", ObjectType: "Key", ObjectName: name, Version: "0123456789abcdef" },
          dataVersion: "1",
          metadataVersion: "1",
        },
      ];
      const sentAt = Date.now();
      const r = await d.api.call("POST", `/api/v1/kms-events/azure?secret=${secret}`, { rawBody: JSON.stringify(event), headers: { "content-type": "application/json" } });
      if (r.status !== 202) throw new Error(`push-to-probe: event answered ${r.status} ${JSON.stringify(r.body)}`);
      for (let tries = 0; ; tries++) {
        const s = (await d.api.admin("GET", `/api/v1/tenants/${t.slug}/status`)).body;
        if (s.state === "locked" && s.lastLock) {
          out.push(Date.parse(s.lastLock.detectedAt) - sentAt);
          break;
        }
        if (tries > 500) {
          misses.push(`push-to-probe ${t.slug}: not locked within 5 s of the event`);
          break;
        }
        await sleep(10);
      }
    }
  } finally {
    await sql.end();
    await d.stop();
  }
  return out;
}
