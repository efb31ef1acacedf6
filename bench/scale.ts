// Scenario 5: scale. One broker instance over 10,000 tenants with connected keys and 100,000
// DEKs (--quick: 1,000 / 10,000). 10 % of the tenants (--quick: 5 %) are active: created through the API (real
// keys, canaries and DEKs) and kept busy by decrypt traffic. The other 90 % and the remaining
// DEKs are inserted in SQL for speed: their wrapped DEK and canary are one real blob reused
// (undecryptable for them, since wrapping binds tenant and DEK ids; only the rows matter, and
// they see no traffic, so they are neither unwrapped nor probed).
import pg from "pg";
import { ms, type Mode, type Section } from "./lib/report";
import { rssMiB } from "./lib/proc";
import type { Stack } from "./lib/stack";
import { median, round, sleep } from "./lib/stats";
import { createDataTenants, tenantTraffic } from "./lib/tenants";

export async function scale(stack: Stack, mode: Mode): Promise<Section> {
  const nTenants = mode.quick ? 1000 : 10_000;
  const nDeks = mode.quick ? 10_000 : 100_000;
  // Active fraction: 10 % (--quick: 5 %, to stay within its time budget).
  const nActive = mode.quick ? nTenants / 20 : nTenants / 10;
  // Quick mode shortens the interval so that the window still spans a whole probe interval.
  const intervalS = mode.quick ? 10 : 30;
  const db = await stack.database();
  const broker = await stack.broker(db.url, { BROKER_PROBE_INTERVAL_MS: String(intervalS * 1000) });
  const rssStart = rssMiB(broker.pid);

  const t0 = performance.now();
  const active = await createDataTenants(stack, broker.api, nActive, "active");
  const activeS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await bulkInsert(db.url, nTenants - nActive, nDeks);
  const bulkS = (performance.now() - t1) / 1000;

  // Traffic on the active tenants through the window; the instance reports them active itself.
  const rate = Math.min(1000, nActive * 2);
  const warmS = 3;
  const windowS = (mode.quick ? 1 : 2) * intervalS;
  const traffic = tenantTraffic(broker.url, active, { connections: 16, rate, durationS: warmS + windowS });
  await sleep(warmS * 1000);
  const probe0 = await broker.metric("cmek_kms_calls_total", { operation: "probe" });
  stack.resetCalls();
  const w0 = performance.now();
  await sleep(windowS * 1000);
  const elapsedS = (performance.now() - w0) / 1000;
  const probeCalls = (await broker.metric("cmek_kms_calls_total", { operation: "probe" })) - probe0;
  const emulatorCalls = Object.values(stack.totalCalls()).reduce((a, b) => a + b, 0);
  const r = await traffic;
  const rssLoaded = rssMiB(broker.pid);

  // The fleet view's API, first page, as the console asks for it.
  const fleetMs: number[] = [];
  let fleetStatus = 0;
  for (let i = 0; i < 6; i++) {
    const s = performance.now();
    const res = await broker.api.admin("GET", "/api/v1/fleet?page=1");
    fleetMs.push(performance.now() - s);
    fleetStatus = res.status;
  }
  const rssEnd = rssMiB(broker.pid);
  await broker.stop();

  const fleetRow: Section["rows"][number] =
    fleetStatus === 200
      ? ["fleet API first page: first call / median of next 5", `${ms(fleetMs[0]!)} / ${ms(median(fleetMs.slice(1)))}`]
      : ["fleet API first page", `GET /api/v1/fleet answered ${fleetStatus}; not measured`];
  return {
    title: `5. Scale (${nTenants.toLocaleString("en")} tenants with connected keys, ${nDeks.toLocaleString("en")} DEKs, one instance)`,
    rows: [
      ["RSS at start / after the window / after fleet calls", `${round(rssStart, 0)} / ${round(rssLoaded, 0)} / ${round(rssEnd, 0)} MiB`],
      fleetRow,
      [`probe KMS calls/s at a ${intervalS} s interval (${nActive} active tenants)`, `${round(probeCalls / elapsedS, 2)}`],
      ["  probe calls per active key per interval", `${round(probeCalls / nActive / (elapsedS / intervalS), 2)}`, "<= 1.25 (jitter 20 %)"],
      ["  all KMS calls/s at the emulators in the window", `${round(emulatorCalls / elapsedS, 2)}`],
      ["  traffic req/s achieved (2xx / other)", `${round(r["2xx"] / r.duration, 0)} / ${r.non2xx + r.errors}`],
    ],
    notes: [
      `${nActive} active tenants (${(100 * nActive) / nTenants} %) created through the API in ${round(activeS, 1)} s; ${nTenants - nActive} more tenants and ${nDeks - nActive} DEKs inserted in SQL in ${round(bulkS, 1)} s (reused wrapped blobs, see bench/scale.ts).`,
      `probe window ${round(elapsedS, 1)} s (${windowS / intervalS} interval(s)) after ${warmS} s of traffic, ${rate} req/s over the active tenants; probe calls from the broker's cmek_kms_calls_total{operation="probe"}.`,
      "RSS = resident memory of the broker's process tree (/proc, VmRSS).",
    ],
    data: { nTenants, nDeks, nActive, intervalS, rssStart, rssLoaded, rssEnd, fleetMs, fleetStatus, probeCalls, windowS: elapsedS, emulatorCalls, activeS, bulkS },
  };
}

/** Inserts `tenants` more tenants, each with a connected key, and DEKs up to `deksTotal`, spread over every connected key. */
async function bulkInsert(url: string, tenants: number, deksTotal: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("BEGIN");
    // A real connection and DEK to copy from (made through the API above).
    const { rows } = await c.query(
      `SELECT kc.provider, kc.key_ref, kc.key_version, kc.canary_wrapped, d.wrapped_key
         FROM key_connection kc JOIN data_key d ON d.key_connection_id = kc.id WHERE kc.status = 'connected' LIMIT 1`,
    );
    const src = rows[0];
    await c.query(`INSERT INTO tenant (id, slug, name, state, state_since) SELECT gen_random_uuid(), 'bulk-' || i, 'Bulk tenant ' || i, 'active', now() FROM generate_series(1, $1) i`, [tenants]);
    await c.query(
      `INSERT INTO key_connection (id, tenant_id, provider, key_ref, status, key_version, canary_wrapped, last_validated_at, last_probe_at, last_probe_outcome)
       SELECT gen_random_uuid(), t.id, $1::"KmsProviderName", $2, 'connected', $3, $4, now(), now(), 'success' FROM tenant t WHERE t.slug LIKE 'bulk-%'`,
      [src.provider, src.key_ref, src.key_version, src.canary_wrapped],
    );
    const { rows: cnt } = await c.query(`SELECT count(*)::int AS n FROM data_key`);
    await c.query(
      // Round-robin over the connections through an array lookup (a hash join), not a join on
      // a modulo, which PostgreSQL can only run as a nested loop.
      `WITH k AS (SELECT array_agg(id ORDER BY id) AS ids FROM key_connection WHERE status = 'connected')
       INSERT INTO data_key (id, tenant_id, key_connection_id, wrapped_key, key_version, uses_reserved)
       SELECT gen_random_uuid(), kc.tenant_id, kc.id, $1, $2, 0
         FROM generate_series(0, $3::int - 1) g(i) CROSS JOIN k JOIN key_connection kc ON kc.id = k.ids[1 + g.i % cardinality(k.ids)]`,
      [src.wrapped_key, src.key_version, deksTotal - cnt[0].n],
    );
    await c.query("COMMIT");
  } finally {
    await c.end();
  }
}
