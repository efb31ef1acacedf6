// A lock or unlock must reach the view requests are served from, even when a concurrent reload
// (a probe, a status read) replaced the registry's view after the caller fetched its own copy.
// Before this was fixed, an unlock racing a probe left the instance refusing with 423, and a
// lock racing a reload left it serving.
import { afterAll, beforeAll, expect, test } from "vitest";
import type { AuditActor } from "@/lib/audit/types";
import { startHarness, type Harness } from "../support/broker-harness";

const ACTOR: AuditActor = { type: "system", name: "test" };
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ BROKER_PROBE_INTERVAL_MS: "3600000" });
});
afterAll(async () => {
  await h?.close();
});

test("lock and unlock apply to the served view after a concurrent reload replaced it", async () => {
  const slug = "state-race";
  const token = await h.api.readyTenant(slug, "aws", (await h.aws.createKeyForVendor()).keyArn);
  const enc = await h.api.encrypt(slug, token, "served only while active");
  expect(enc.status).toBe(200);
  const { registry, locks } = h.runtime.ctx;

  const heldForLock = (await registry.load({ slug }))!;
  await registry.load({ slug }); // a concurrent reader replaces the cached view
  await locks.lock(heldForLock, { source: "kill_switch", reason: "kill_switch: race test", actor: ACTOR });
  const locked = await h.api.decrypt(slug, token, enc.body.ciphertext);
  expect(locked.status).toBe(423);
  expect(locked.body.error.code).toBe("tenant_locked");

  const heldForUnlock = (await registry.load({ slug }))!;
  await registry.load({ slug });
  await locks.markActive(heldForUnlock, "admin", ACTOR);
  const resumed = await h.api.decrypt(slug, token, enc.body.ciphertext);
  expect(resumed.status).toBe(200);
  expect(Buffer.from(resumed.body.plaintext, "base64").toString()).toBe("served only while active");
});
