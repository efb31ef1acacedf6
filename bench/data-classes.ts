// Scenario: data classes (issue 12). Decrypt throughput of 1 KiB with cached DEKs when every
// request of a tenant's load names one of three classes in turn (default, pii, billing: three
// DEKs under three keys, format 1 and 2 records), against a tenant with only `default`, in the
// same run on the same broker: the ratio says what per-class DEKs, lock scopes and the class
// check cost the hot path. The classes are written to the database directly (as the class API
// would write them) and the broker is made to reload the tenant.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { measureInterleaved, type LoadOptions, type Target } from "./lib/load";
import { fmtCores, ms, ratio, type Mode, type Section } from "./lib/report";
import { createVendorKey, readyTenant, type ApiClient, type Stack } from "./lib/stack";

/** Adds classes to a tenant, each with its own AWS key as primary, then has the broker reload the tenant. */
async function addClasses(stack: Stack, dbUrl: string, api: ApiClient, slug: string, names: string[]): Promise<void> {
  const sql = new pg.Pool({ connectionString: dbUrl, max: 2 });
  try {
    const tenantId = (await sql.query<{ id: string }>(`SELECT id FROM tenant WHERE slug = $1`, [slug])).rows[0]!.id;
    for (const name of names) {
      const key = await createVendorKey(stack, "aws");
      const cls = (await sql.query<{ id: string }>(`INSERT INTO data_class (tenant_id, name, state) VALUES ($1, $2, 'active') RETURNING id`, [tenantId, name])).rows[0]!;
      await sql.query(`INSERT INTO key_connection (id, tenant_id, provider, key_ref, status, data_class_id, role, last_validated_at) VALUES (gen_random_uuid(), $1, 'aws', $2, 'connected', $3, 'primary', now())`, [tenantId, key.keyId, cls.id]);
    }
  } finally {
    await sql.end();
  }
  // Any tenant write reloads the broker's view of it (and tells the other instances).
  const r = await api.admin("PUT", `/api/v1/tenants/${slug}/settings`, { manualResume: false });
  if (r.status !== 200) throw new Error(`settings ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
}

export async function dataClasses(stack: Stack, mode: Mode): Promise<Section> {
  const load: LoadOptions = mode.quick ? { connections: 64, warmupS: 1, durationS: 2, runs: 1 } : { connections: 64, warmupS: 3, durationS: 8, runs: 3 };
  const db = await stack.database();
  const broker = await stack.broker(db.url, { BROKER_PROBE_INTERVAL_MS: "3600000", BROKER_INSTANCE_ID: "classes" });
  const one = await readyTenant(stack, broker.api, "cls-one", "aws");
  const three = await readyTenant(stack, broker.api, "cls-three", "aws");
  await addClasses(stack, db.url, broker.api, three.slug, ["pii", "billing"]);
  const plaintext = randomBytes(1024).toString("base64");

  const seal = async (slug: string, token: string, dataClass?: string): Promise<string> => {
    const r = await broker.api.call("POST", `/api/v1/tenants/${slug}/encrypt`, { token, body: { plaintext, dataClass } });
    if (r.status !== 200) throw new Error(`encrypt ${slug}/${dataClass ?? "default"}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.ciphertext as string;
  };
  const oneCt = await seal(one.slug, one.token);
  const threeCts = [await seal(three.slug, three.token), await seal(three.slug, three.token, "pii"), await seal(three.slug, three.token, "billing")];
  // Each DEK is cached before the warm-up (the cold path is another scenario).
  for (const [slug, token, ct] of [[one.slug, one.token, oneCt], ...threeCts.map((c) => [three.slug, three.token, c])] as const) {
    const r = await broker.api.decrypt(slug, token, ct);
    if (r.status !== 200) throw new Error(`decrypt ${slug}: ${r.status} ${JSON.stringify(r.body)}`);
  }

  const target = (name: string, slug: string, token: string, cts: string[]): Target => ({
    name,
    url: broker.url,
    pid: broker.pid,
    path: `/api/v1/tenants/${slug}/decrypt`,
    body: JSON.stringify({ ciphertext: cts[0] }),
    bodies: cts.map((ciphertext) => JSON.stringify({ ciphertext })),
    headers: { authorization: `Bearer ${token}` },
  });
  const figures = await measureInterleaved([target("one class", one.slug, one.token, [oneCt]), target("three classes", three.slug, three.token, threeCts)], load);
  const f1 = figures.get("one class")!;
  const f3 = figures.get("three classes")!;
  const rows: Section["rows"] = [];
  for (const [name, f] of [
    ["one class (default)", f1],
    ["three classes (default, pii, billing in turn)", f3],
  ] as const) {
    rows.push([`${name}: req/s`, `${f.rps}`]);
    rows.push([`${name}: p50 / p99 (saturated)`, `${ms(f.p50)} / ${ms(f.p99)}`]);
    rows.push([`${name}: errors; runs req/s`, `${f.errors}; ${f.runsRps.join(", ")}`]);
    rows.push([`${name}: cores`, fmtCores(f.cores)]);
  }
  rows.push(["ratio three classes / one class", ratio(f3.rps, f1.rps).toFixed(2)]);
  return {
    title: `Data classes: decrypt throughput with three classes vs one (1 KiB, cached DEKs, ${load.connections} connections, PostgreSQL)`,
    rows,
    notes: [
      `${load.runs} measured rounds of ${load.durationS} s per target, interleaved, after a ${load.warmupS} s warm-up each; medians over the rounds. Same broker, audit on.`,
      "Three classes: each connection sends a default (format 1), a pii and a billing (format 2) ciphertext in turn, each class's DEK under its own AWS key.",
    ],
    data: { oneClass: f1, threeClasses: f3 },
  };
}
