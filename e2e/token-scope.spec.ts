// Least-privilege service tokens in the console (issue 12): the tenant admin creates a token
// limited to one operation and to chosen data classes (picked from the tenant's classes), the
// list shows its scope, and the broker enforces the scope at once.
import { expect, test } from "@playwright/test";
import { AwsTenantActions } from "../emulators/tenant-actions";
import { callApi, createTenant, encrypt, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

test("the tenant admin creates a decrypt-only token for chosen classes and sees its scope in the list", async ({ page }) => {
  const s = stack();
  const t = await createTenant("scope", { awsKey: true });
  const aws = new AwsTenantActions(s.aws.url, s.aws.region);
  try {
    for (const name of ["pii", "billing"]) {
      expect((await callApi("POST", `/api/v1/tenants/${t.slug}/classes`, { token: s.adminToken, body: { name } })).status).toBe(201);
      const keyId = (await aws.createKeyForVendor()).keyArn;
      expect((await callApi("PUT", `/api/v1/tenants/${t.slug}/classes/${name}/key`, { token: s.adminToken, body: { provider: "aws", keyId } })).status).toBe(200);
    }
  } finally {
    aws.close();
  }

  await signIn(page, t.adminEmail);
  await page.goto(`/t/${t.slug}/tokens`);
  await page.getByLabel("Name").fill("reader");
  await page.getByLabel("Decrypt only").check();
  await page.getByLabel("Only these").check();
  // Nothing chosen yet: the form says so instead of sending it.
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.locator(".field-error")).toContainText("Choose at least one class");
  await page.getByLabel("class billing").check();
  await page.getByLabel("class pii").check();
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!.trim();
  expect(token).toMatch(/^cmk_/);
  // Stored (and listed) sorted, whatever order they were ticked in.
  await expect(page.getByTestId("token-row-reader").getByTestId("token-scope")).toHaveText("decrypt only · billing, pii");
  await screenshot(page, "service-tokens-scoped");
  await expectAccessible(page, "token page with a scoped token");

  // An unrestricted token next to it says so.
  await page.getByLabel("Name").fill("everything");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.getByTestId("token-row-everything").getByTestId("token-scope")).toHaveText("encrypt and decrypt · all classes");

  // The broker holds the token to its scope.
  const refused = await encrypt(t.slug, token, "not allowed");
  expect(refused.status).toBe(403);
  expect((refused.body as unknown as { error: { code: string; operation: string } }).error).toMatchObject({ code: "scope_denied", operation: "encrypt" });
});
