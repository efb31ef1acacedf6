// Tenant governance in the console: the tenant admin sets a token's purpose policy on the token
// page; the data path enforces it at once (403 purpose_denied for a purpose not allowed or
// missing), and the audit dashboard counts the accesses by purpose.
import { expect, test } from "@playwright/test";
import { createTenant, encrypt, expectAccessible, screenshot, signIn } from "./support/fixtures";

test("the tenant admin sets a purpose policy and the broker enforces it", async ({ page }) => {
  const t = await createTenant("gov", { serviceToken: true });
  const token = t.serviceToken!;
  // Before any policy, any purpose passes.
  expect((await encrypt(t.slug, token, "before", "vendor_support")).status).toBe(200);

  await signIn(page, t.adminEmail);
  await page.goto(`/t/${t.slug}/tokens`);
  const card = page.getByTestId("purpose-policy");
  await expect(card.getByRole("heading", { name: "Purpose policy" })).toBeVisible();
  await card.getByLabel("Require a purpose on every request").check();
  await card.getByLabel("Only allow these purposes").check();
  await card.getByLabel("customer_initiated_access", { exact: true }).check();
  await card.getByLabel("backup_restore", { exact: true }).check();
  await card.getByRole("button", { name: "Save policy" }).click();
  await expect(card.getByText("Policy saved")).toBeVisible();
  await screenshot(page, "purpose-policy");
  await expectAccessible(page, "token page with purpose policy");

  const allowed = await encrypt(t.slug, token, "allowed", "customer_initiated_access");
  expect(allowed.status).toBe(200);
  const denied = await encrypt(t.slug, token, "denied", "vendor_support");
  expect(denied.status).toBe(403);
  expect((denied.body as unknown as { error: { code: string } }).error.code).toBe("purpose_denied");

  // The saved policy is what the page shows after a reload.
  await page.reload();
  await expect(page.getByTestId("purpose-policy").getByLabel("backup_restore", { exact: true })).toBeChecked();
  await expect(page.getByTestId("purpose-policy").getByLabel("vendor_support", { exact: true })).not.toBeChecked();

  await page.goto(`/t/${t.slug}/audit`);
  const purposes = page.getByTestId("audit-purposes");
  await expect(purposes.getByRole("row", { name: /vendor_support/ })).toContainText("1");
  await expect(purposes.getByRole("row", { name: /customer_initiated_access/ })).toBeVisible();
});
