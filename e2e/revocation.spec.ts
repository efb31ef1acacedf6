// Revocation at the KMS: the tenant disables its key; the broker detects it (prober, or on
// use when a data key must be unwrapped again) and locks the tenant. The tenant's health page
// turns red and the vendor's fleet table shows the lock, both without a reload.
import { expect, test } from "@playwright/test";
import { AwsTenantActions } from "../emulators/tenant-actions";
import { createTenant, decrypt, encrypt, screenshot, signIn, stack } from "./support/fixtures";

test("disabling the key at the KMS locks the tenant, live in both consoles", async ({ browser }) => {
  const s = stack();
  const t = await createTenant("globex", { serviceToken: true });
  const keyArn = t.keyArn!;
  const serviceToken = t.serviceToken!;
  const tenantCtx = await browser.newContext();
  const opsCtx = await browser.newContext();
  const tenantPage = await tenantCtx.newPage();
  const opsPage = await opsCtx.newPage();
  const aws = new AwsTenantActions(s.aws.url, s.aws.region);
  try {
    const enc = await encrypt(t.slug, serviceToken, "before revocation");
    expect(enc.status).toBe(200);

    await signIn(tenantPage, t.adminEmail);
    await expect(tenantPage.getByTestId("tenant-state")).toHaveText("active");
    await signIn(opsPage, "ops@vendor.example");
    await expect(opsPage).toHaveURL(/\/ops$/);
    await expect(opsPage.getByTestId(`fleet-row-${t.slug}`)).toHaveAttribute("data-health", "ok");

    await aws.disable(keyArn);
    // Keep using the data: once the cached data key expires, the unwrap at the KMS is refused.
    await expect.poll(async () => (await decrypt(t.slug, serviceToken, enc.body.ciphertext)).status, { timeout: 20_000, intervals: [250] }).toBe(423);

    await expect(tenantPage.getByTestId("tenant-state")).toHaveText("locked");
    await expect(tenantPage.getByTestId("locked-banner")).toContainText("kms:aws");
    await expect(opsPage.getByTestId(`fleet-row-${t.slug}`)).toHaveAttribute("data-health", "locked");
    // Locked tenants sort first (other specs' tenants may be locked too: this one sorts before every unlocked row).
    const rows = opsPage.getByTestId("fleet-table").locator("tbody tr");
    const healths = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute("data-testid"), tr.getAttribute("data-health")]));
    const mine = healths.findIndex(([id]) => id === `fleet-row-${t.slug}`);
    expect(mine, "row of the locked tenant").toBeGreaterThanOrEqual(0);
    expect(healths.slice(0, mine).every(([, health]) => health === "locked"), `rows before ${t.slug}: ${JSON.stringify(healths.slice(0, mine))}`).toBe(true);
    await screenshot(tenantPage, "tenant-revoked");
    await screenshot(opsPage, "fleet-with-lock");
  } finally {
    // Best effort on the way out: the tenant is this test's own, nothing else relies on its key.
    await aws.enable(keyArn).catch(() => {});
    aws.close();
    await tenantCtx.close();
    await opsCtx.close();
  }
});
