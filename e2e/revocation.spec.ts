// Revocation at the KMS: the tenant disables its key; the broker detects it (prober, or on
// use when a data key must be unwrapped again) and locks the tenant. The tenant's health page
// turns red and the vendor's fleet table shows the lock, both without a reload.
import { expect, test } from "@playwright/test";
import { AwsTenantActions } from "../emulators/tenant-actions";
import { decrypt, encrypt, screenshot, signIn, stack } from "./support/fixtures";

test("disabling the key at the KMS locks the tenant, live in both consoles", async ({ browser }) => {
  const s = stack();
  const tenantCtx = await browser.newContext();
  const opsCtx = await browser.newContext();
  const tenantPage = await tenantCtx.newPage();
  const opsPage = await opsCtx.newPage();
  const aws = new AwsTenantActions(s.aws.url, s.aws.region);
  try {
    const enc = await encrypt("globex", s.globex.serviceToken, "before revocation");
    expect(enc.status).toBe(200);

    await signIn(tenantPage, "admin@globex.example");
    await expect(tenantPage.getByTestId("tenant-state")).toHaveText("active");
    await signIn(opsPage, "ops@vendor.example");
    await expect(opsPage).toHaveURL(/\/ops$/);
    await expect(opsPage.getByTestId("fleet-row-globex")).toHaveAttribute("data-health", "ok");

    await aws.disable(s.globex.keyArn);
    // Keep using the data: once the cached data key expires, the unwrap at the KMS is refused.
    const deadline = Date.now() + 20_000;
    let status = 200;
    while (Date.now() < deadline) {
      status = (await decrypt("globex", s.globex.serviceToken, enc.body.ciphertext)).status;
      if (status === 423) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe(423);

    await expect(tenantPage.getByTestId("tenant-state")).toHaveText("locked");
    await expect(tenantPage.getByTestId("locked-banner")).toContainText("kms:aws");
    await expect(opsPage.getByTestId("fleet-row-globex")).toHaveAttribute("data-health", "locked");
    // Locked tenants sort first.
    await expect(opsPage.getByTestId("fleet-table").locator("tbody tr").first()).toHaveAttribute("data-testid", "fleet-row-globex");
    await screenshot(tenantPage, "tenant-revoked");
    await screenshot(opsPage, "fleet-with-lock");
  } finally {
    await aws.enable(s.globex.keyArn).catch(() => {});
    aws.close();
    await tenantCtx.close();
    await opsCtx.close();
  }
});
