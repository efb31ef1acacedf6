// Least-privilege service tokens in the console (issue 12): the tenant admin creates a token
// limited to one operation and to chosen data classes, the list shows its scope, a class name
// that breaks the rule is caught in the form, and the broker enforces the scope at once.
import { expect, test } from "@playwright/test";
import { createTenant, encrypt, expectAccessible, screenshot, signIn } from "./support/fixtures";

test("the tenant admin creates a decrypt-only token for chosen classes and sees its scope in the list", async ({ page }) => {
  const t = await createTenant("scope", { awsKey: true });
  await signIn(page, t.adminEmail);
  await page.goto(`/t/${t.slug}/tokens`);
  await page.getByLabel("Name").fill("reader");
  await page.getByLabel("Decrypt only").check();
  await page.getByLabel("Only these").check();
  await page.getByRole("textbox", { name: "Class names" }).fill("default, PII");
  await page.getByRole("button", { name: "Create token" }).click();
  await expect(page.locator(".field-error")).toContainText('"PII" is not a class name');

  await page.getByRole("textbox", { name: "Class names" }).fill("default");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").textContent())!.trim();
  expect(token).toMatch(/^cmk_/);
  await expect(page.getByTestId("token-row-reader").getByTestId("token-scope")).toHaveText("decrypt only · default");
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
