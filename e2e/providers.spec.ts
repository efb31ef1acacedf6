// Connect + validate with Azure Key Vault and Google Cloud KMS keys, applying the grant the
// wizard shows (the vendor identity is read from the copyable command).
import { expect, test, type Page } from "@playwright/test";
import { AzureTenantActions, GcpTenantActions } from "../emulators/tenant-actions";
import { createTenant, expectAccessible, screenshot, signIn } from "./support/fixtures";
import { stack } from "./support/fixtures";

async function openWizard(page: Page, slug: string, provider: "Azure Key Vault" | "Google Cloud KMS") {
  await signIn(page, `admin@${slug}.example`);
  await page.goto(`/t/${slug}/key`);
  await page.getByRole("radio", { name: provider }).check();
}

async function validate(page: Page) {
  await page.getByRole("button", { name: "Validate and connect" }).click();
  await expect(page.getByText("Connected.")).toBeVisible();
  await expect(page.getByTestId("connect-state")).toHaveText("active");
}

test("tenant admin connects and validates an Azure Key Vault key", async ({ page }) => {
  const s = stack();
  const azure = new AzureTenantActions(s.azure.vaultUrl, s.azure.caPem, s.azure.authorityHost);
  const keyUri = await azure.createKey("RSA");
  await openWizard(page, (await createTenant("initech")).slug, "Azure Key Vault");
  await page.getByLabel("Key URI (versionless)").fill(keyUri);
  await expect(page.getByText("Format looks right.")).toBeVisible();
  const cli = (await page.getByTestId("grant-azure-cli").textContent())!;
  expect(cli).toContain('--role "Key Vault Crypto Service Encryption User"');
  expect(cli).toContain(`/keys/${new URL(keyUri).pathname.split("/")[2]}`);
  const appId = /--assignee (\S+)/.exec(cli)![1]!;
  await azure.setVendorAccess(keyUri, true, appId);
  await validate(page);
  await screenshot(page, "connect-key-azure");
  await expectAccessible(page, "connect key (Azure)");
});

test("tenant admin connects and validates a Google Cloud KMS key", async ({ page }) => {
  const s = stack();
  const gcp = new GcpTenantActions("127.0.0.1", s.gcp.grpcPort);
  try {
    const keyName = await gcp.createKey();
    await openWizard(page, (await createTenant("umbrella")).slug, "Google Cloud KMS");
    await page.getByLabel("CryptoKey resource name").fill(`${keyName}/cryptoKeyVersions/1`);
    await expect(page.locator(".field-error")).toContainText("CryptoKeyVersion");
    await page.getByLabel("CryptoKey resource name").fill(keyName);
    await expect(page.getByText("Format looks right.")).toBeVisible();
    const cli = (await page.getByTestId("grant-gcp-cli").textContent())!;
    expect(cli).toContain("--role roles/cloudkms.cryptoKeyEncrypterDecrypter");
    const member = /--member (\S+)/.exec(cli)![1]!;
    expect(member).toMatch(/^serviceAccount:/);
    await gcp.setVendorBinding(keyName, true, member);
    await validate(page);
    await screenshot(page, "connect-key-gcp");
  } finally {
    await gcp.close();
  }
});
