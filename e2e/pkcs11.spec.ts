// Connect + validate a key on the tenant's own HSM (PKCS#11) in the wizard: SoftHSM2 stands in for
// the HSM (the e2e stack makes a token and an AES key on it and gives the broker its PIN file).
import { expect, test } from "@playwright/test";
import { createTenant, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

test("tenant admin connects and validates a PKCS#11 key on an HSM token", async ({ page }) => {
  const s = stack();
  expect(s.pkcs11, "the e2e stack needs SoftHSM2 (Debian softhsm2) for this spec").not.toBeNull();
  const { keyUri, token } = s.pkcs11!;
  const t = await createTenant("hsm");
  await signIn(page, t.adminEmail);
  await page.goto(`/t/${t.slug}/key`);
  await page.getByRole("radio", { name: "HSM (PKCS#11)" }).check();

  const field = page.getByLabel("PKCS#11 URI (RFC 7512): token and key label or id");
  // A PIN in the reference is refused as the tenant types.
  await field.fill(`${keyUri}?pin-value=1234`);
  await expect(page.locator(".field-error")).toContainText("pin-value");
  await field.fill(keyUri);
  await expect(page.getByText("Format looks right.")).toBeVisible();

  // Per-provider instructions: the key to make on the token, the ownership object, the PIN handover.
  await expect(page.getByTestId("grant-pkcs11-keygen")).toContainText(`--token-label ${token}`);
  await expect(page.getByTestId("grant-pkcs11-keygen")).toContainText("--key-type AES:32 --label e2e-tenant-key");
  await expect(page.getByTestId("grant-pkcs11-ownership")).toContainText(t.id);
  await expect(page.getByTestId("grant-pkcs11-pin")).toContainText(`token label: ${token}`);

  await page.getByRole("button", { name: "Validate and connect" }).click();
  await expect(page.getByText("Connected.")).toBeVisible();
  await expect(page.getByTestId("connect-state")).toHaveText("active");
  for (const step of ["wrap", "unwrap", "compare"]) {
    await expect(page.getByTestId("validation-steps").locator(`li[data-step="${step}"]`)).toHaveAttribute("data-ok", "true");
  }
  await screenshot(page, "connect-key-pkcs11");
  await expectAccessible(page, "connect key (PKCS#11)");
});
