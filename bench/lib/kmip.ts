// KMIP rows of the KMS-economy and time-to-lock scenarios, against PyKMIP (Debian
// python3-pykmip; rows say "not run" without it). KMIP has no emulator counters, so KMS calls are
// the broker's own counter cmek_kms_calls_total{provider="kmip"}. Tenants register the broker's
// certificates in PyKMIP's trust bundle (a restart) and create their keys under the broker's CN.
import { randomBytes } from "node:crypto";
import { KmipClient } from "../../lib/kms/kmip/client";
import { RevocationReasonCode } from "../../lib/kms/kmip/tags";
import { pykmipInstalled, startPyKmip, type PyKmipServer } from "../../testkit/pykmip";
import { ms, type Mode, type Section } from "./report";
import type { ApiClient, Broker, Stack } from "./stack";
import { median, round } from "./stats";
import { tenantTraffic } from "./tenants";

interface KmipTenant {
  slug: string;
  token: string;
  uid: string;
  admin: KmipClient;
}

/** Production mode (as the bench brokers run) requires the sealing key once KMIP is on. */
const SEALING = { BROKER_KMIP_SEALING_KEY: randomBytes(32).toString("base64url") };

const NOT_RUN: Section["rows"] = [["kmip (PyKMIP): not run, python3-pykmip is not installed", "-"]];

/** Creates the tenants, registers their certificates (one restart), connects one new key each. */
async function kmipTenants(server: PyKmipServer, api: ApiClient, slugs: string[]): Promise<KmipTenant[]> {
  const pending: Array<{ slug: string; cn: string; pem: string }> = [];
  for (const slug of slugs) {
    await api.createTenant(slug);
    const info = await api.admin("GET", `/api/v1/tenants/${slug}/connect-info`);
    pending.push({ slug, cn: info.body.kmip.clientCertificate.commonName, pem: info.body.kmip.clientCertificate.certificatePem });
  }
  server.setTrustedClientCerts(pending.map((p) => p.pem));
  server.kill();
  await server.start();
  const out: KmipTenant[] = [];
  for (const p of pending) {
    const c = server.clientCert(p.cn);
    const admin = new KmipClient({ host: server.host, port: server.port, certPem: c.certPem, keyPem: c.keyPem, caPem: server.caPem }, `bench ${p.cn}`, { timeoutMs: 10_000 });
    const uid = await admin.create({ usageMask: 12 });
    await admin.activate(uid);
    const r = await api.admin("PUT", `/api/v1/tenants/${p.slug}/key`, { provider: "kmip", keyId: `kmip://${server.host}:${server.port}/${uid}`, serverCaPem: server.caPem });
    if (r.status !== 200) throw new Error(`kmip connect ${p.slug}: ${r.status} ${JSON.stringify(r.body)}`);
    out.push({ slug: p.slug, token: await api.token(p.slug), uid, admin });
  }
  return out;
}

const kmipUnwraps = (b: Broker) => b.metric("cmek_kms_calls_total", { provider: "kmip", operation: "unwrap" });

/** KMS economy on KMIP: a cold DEK under concurrent decrypts, and a cached DEK under steady load. */
export async function kmipEconomyRows(stack: Stack, databaseUrl: string, ttlMs: number, mode: Mode): Promise<Section["rows"]> {
  if (!pykmipInstalled()) return NOT_RUN;
  const server = await startPyKmip();
  try {
    const env = { ...SEALING, BROKER_KMIP_ALLOWED_HOSTS: `${server.host}:${server.port}`, BROKER_PROBE_INTERVAL_MS: "3600000" };
    const [broker, cold] = await Promise.all([
      stack.broker(databaseUrl, { ...env, BROKER_DEK_CACHE_TTL_MS: String(ttlMs), BROKER_INSTANCE_ID: "economy-kmip" }),
      stack.broker(databaseUrl, { ...env, BROKER_INSTANCE_ID: "economy-kmip-cold" }),
    ]);
    const [t] = await kmipTenants(server, broker.api, ["economy-kmip"]);
    const ciphertext: string = (await broker.api.encrypt(t!.slug, t!.token, randomBytes(1024))).body.ciphertext;
    const n = mode.quick ? 200 : 1000;
    const c0 = await kmipUnwraps(cold);
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: n }, () => cold.api.decrypt(t!.slug, t!.token, ciphertext).then((r) => r.status)));
    const wall = performance.now() - started;
    const coldUnwraps = (await kmipUnwraps(cold)) - c0;
    await cold.stop();
    const ttls = mode.quick ? 2 : 10;
    await broker.api.decrypt(t!.slug, t!.token, ciphertext);
    const s0 = await kmipUnwraps(broker);
    const steady = await tenantTraffic(broker.url, [{ slug: t!.slug, token: t!.token, ciphertext, provider: "kmip" }], { connections: 4, rate: 200, durationS: (ttls * ttlMs) / 1000 });
    const steadyUnwraps = (await kmipUnwraps(broker)) - s0;
    await broker.stop();
    return [
      [`kmip (PyKMIP): cold DEK, ${n} concurrent decrypts: KMIP Decrypts`, `${coldUnwraps}`, "1"],
      ["  answered 200 / wall time", `${statuses.filter((s) => s === 200).length} / ${ms(wall)}`],
      [`kmip: steady load ${(ttls * ttlMs) / 1000} s, 1 cached DEK: KMIP Decrypts per TTL`, `${round(steadyUnwraps / ttls, 2)}`, "<= 1"],
      ["  requests (2xx / other)", `${steady["2xx"]} / ${steady.non2xx + steady.errors}`],
    ];
  } finally {
    server.dispose();
  }
}

/** Time-to-lock on KMIP: Revoke (Deactivated / Compromised) while a decrypt loop runs, to the first 423. */
export async function kmipTimeToLockRows(stack: Stack, databaseUrl: string, mode: Mode): Promise<Section["rows"]> {
  if (!pykmipInstalled()) return NOT_RUN;
  const server = await startPyKmip();
  try {
    const broker = await stack.broker(databaseUrl, { ...SEALING, BROKER_KMIP_ALLOWED_HOSTS: `${server.host}:${server.port}`, BROKER_PROBE_INTERVAL_MS: "1000", BROKER_INSTANCE_ID: "ttl-kmip" });
    const reps = mode.quick ? 1 : 3;
    const kinds = [
      { kind: "Revoke CESSATION_OF_OPERATION", code: RevocationReasonCode.CessationOfOperation },
      { kind: "Revoke KEY_COMPROMISE", code: RevocationReasonCode.KeyCompromise },
    ];
    const slugs = kinds.flatMap((k, i) => Array.from({ length: reps }, (_, r) => `ttl-kmip-${i}-${r}`));
    const tenants = await kmipTenants(server, broker.api, slugs);
    const samples = new Map<string, number[]>(kinds.map((k) => [k.kind, []]));
    const misses: string[] = [];
    for (const [i, t] of tenants.entries()) {
      const k = kinds[Math.floor(i / reps)]!;
      const ct: string = (await broker.api.encrypt(t.slug, t.token, randomBytes(1024))).body.ciphertext;
      // Registered as active and probed once, as in steady state.
      await new Promise((r) => setTimeout(r, 2000));
      let first: number | null = null;
      const deadline = performance.now() + 15_000;
      const loop = (async () => {
        while (first === null && performance.now() < deadline) if ((await broker.api.decrypt(t.slug, t.token, ct)).status === 423) first = performance.now();
      })();
      const t0 = performance.now();
      await t.admin.revoke(t.uid, k.code, k.code === RevocationReasonCode.KeyCompromise ? new Date() : undefined);
      await loop;
      if (first === null) misses.push(`kmip ${k.kind}: no 423 within 15 s`);
      else samples.get(k.kind)!.push((first as number) - t0);
    }
    await broker.stop();
    const rows: Section["rows"] = [...samples].map(([kind, xs]) => [`kmip (PyKMIP) ${kind} → first 423: median / max (n=${xs.length})`, xs.length ? `${ms(median(xs))} / ${ms(Math.max(...xs))}` : "-", "interval + 1 s"]);
    for (const m of misses) rows.push([m, "-"]);
    return rows;
  } finally {
    server.dispose();
  }
}
