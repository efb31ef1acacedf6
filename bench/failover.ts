// Scenario: failover to a class's secondary key (issue 12). Primary on the AWS emulator, secondary
// on the GCP emulator. Each trial: the DEK is cold (cache TTL 100 ms, no traffic), the primary's
// emulator is black-holed, and decrypts are sent until the first one succeeds (through the
// secondary). Figure: time from the black hole to that first successful cold unwrap, p50/p99.
// The KMS circuit is off so that every trial pays the full hedge budget (with it on, misses
// after the first skip the unreachable primary at once, which is faster).
import { randomBytes } from "node:crypto";
import { ms, type Mode, type Section } from "./lib/report";
import { createVendorKey, readyTenant, type Stack } from "./lib/stack";
import { percentile, sleep } from "./lib/stats";

const HEDGE_MS = 300;
const TTL_MS = 100;

export async function failover(stack: Stack, mode: Mode): Promise<Section> {
  const db = await stack.database();
  const broker = await stack.broker(db.url, { BROKER_DEK_CACHE_TTL_MS: String(TTL_MS), BROKER_FAILOVER_HEDGE_MS: String(HEDGE_MS), BROKER_KMS_CIRCUIT_MS: "0" });
  const t = await readyTenant(stack, broker.api, "failover-bench", "aws");
  const secondary = await createVendorKey(stack, "gcp");
  const c = await broker.api.admin("PUT", `/api/v1/tenants/${t.slug}/classes/default/secondary-key`, { provider: "gcp", keyId: secondary.keyId });
  if (c.status !== 200) throw new Error(`secondary-key: ${c.status} ${JSON.stringify(c.body)}`);
  // The DEK made before the secondary gets its form from the add_secondary job; a fresh encrypt after it is wrapped under both.
  const ct = (await broker.api.encrypt(t.slug, t.token, randomBytes(1024))).body.ciphertext as string;
  const trials = mode.quick ? 5 : 30;
  const times: number[] = [];
  let failuresBeforeSuccess = 0;
  const failovers0 = await broker.metric("cmek_failover_unwraps_total");
  for (let i = 0; i < trials; i++) {
    // Cold: nothing touches the DEK for longer than its TTL (the cache sweep runs every second).
    await sleep(TTL_MS + 1100);
    stack.emulators.aws.faults.set({ error: "blackhole" });
    const down = performance.now();
    for (;;) {
      const r = await broker.api.decrypt(t.slug, t.token, ct);
      if (r.status === 200) break;
      failuresBeforeSuccess++;
      if (performance.now() - down > 30_000) throw new Error(`no successful decrypt through the secondary: ${r.status} ${JSON.stringify(r.body)}`);
    }
    times.push(performance.now() - down);
    stack.emulators.aws.faults.clear();
  }
  const failovers = (await broker.metric("cmek_failover_unwraps_total")) - failovers0;
  await broker.stop();
  return {
    title: `Failover to the secondary key (primary AWS black-holed, secondary GCP, hedge ${HEDGE_MS} ms, ${trials} trials, cold DEK)`,
    rows: [
      ["black hole → first successful cold unwrap: p50 / p99", `${ms(percentile(times, 50))} / ${ms(percentile(times, 99))}`, `≈ hedge budget (${HEDGE_MS} ms) + one secondary unwrap`],
      ["failed requests before that success (all trials)", `${failuresBeforeSuccess}`, "0"],
      ["unwraps answered by the secondary (cmek_failover_unwraps_total delta)", `${failovers}`, `≥ ${trials}`],
    ],
    notes: ["KMS circuit off (BROKER_KMS_CIRCUIT_MS=0): each trial waits out the hedge budget before the secondary is asked."],
    data: { trials, timesMs: times, failuresBeforeSuccess, failovers, hedgeMs: HEDGE_MS },
  };
}
