// Data classes in the console (issue 12): a tenant admin adds a class `pii`, connects its key in
// the wizard, sees a card per class, adds a secondary key on another cloud (Azure) through the same
// wizard and watches its coverage reach 100 %, runs the failover drill and reads its report, and
// locks `pii` alone with its kill switch while `default` keeps serving.
import { expect, test, type Page } from "@playwright/test";
import { AwsTenantActions, AzureTenantActions } from "../emulators/tenant-actions";
import { callApi, createTenant, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

function encryptIn(slug: string, token: string, dataClass: string, plaintext: string) {
  return callApi<{ ciphertext: string }>("POST", `/api/v1/tenants/${slug}/encrypt`, {
    token,
    body: { plaintext: Buffer.from(plaintext).toString("base64"), context: { table: "e2e" }, purpose: "e2e", ...(dataClass === "default" ? {} : { dataClass }) },
  });
}

async function validateAndConnect(page: Page, success: string | RegExp) {
  await page.getByRole("button", { name: "Validate and connect" }).click();
  await expect(page.getByText(success)).toBeVisible();
  await expect(page.getByTestId("connect-state")).toHaveText("active");
  for (const step of ["wrap", "unwrap", "compare"]) {
    await expect(page.getByTestId("validation-steps").locator(`li[data-step="${step}"]`)).toHaveAttribute("data-ok", "true");
  }
}

test("a second class with its own key, a secondary key with full coverage and a drill, and a kill switch per class", async ({ page }) => {
  const s = stack();
  const t = await createTenant("classes", { serviceToken: true });
  const aws = new AwsTenantActions(s.aws.url, s.aws.region);
  const azure = new AzureTenantActions(s.azure.vaultUrl, s.azure.caPem, s.azure.authorityHost);
  try {
    await signIn(page, t.adminEmail);
    await expect(page).toHaveURL(new RegExp(`/t/${t.slug}$`));
    // Only `default`: the page looks as before, with a "Data classes" heading and no class cards.
    const classes = page.getByTestId("data-classes");
    await expect(classes).toHaveAttribute("data-count", "1");
    await expect(page.getByTestId("class-cards")).toHaveCount(0);

    // --- add the class; the name is checked as it is typed
    await classes.getByRole("button", { name: "New data class…" }).click();
    const name = classes.getByLabel("New data class name");
    await name.fill("PII");
    await expect(classes.locator(".field-error")).toContainText("lowercase letters");
    await name.fill("default");
    await expect(classes.locator(".field-error")).toContainText("always exists");
    await name.fill("pii");
    await expect(classes.locator(".field-error")).toHaveCount(0);
    await classes.getByRole("button", { name: "Add data class" }).click();
    await expect(classes.getByText("Class pii added.")).toBeVisible();
    const defaultCard = page.getByTestId("class-card-default");
    const piiCard = page.getByTestId("class-card-pii");
    await expect(defaultCard.getByTestId("class-key-id")).toHaveText(t.keyArn!);
    await expect(piiCard.getByTestId("class-key-id")).toHaveText("no key connected yet");

    // --- connect pii's key in the wizard, opened from its card
    await piiCard.getByRole("link", { name: "Connect a key to pii" }).click();
    await expect(page.getByRole("heading", { name: "Connect the key of class pii" })).toBeVisible();
    await expect(page.getByLabel("Data class")).toHaveValue("pii");
    const { keyArn: piiKey } = await aws.createKeyForVendor();
    await page.getByLabel("Key ARN (or alias ARN)").fill(piiKey);
    await expect(page.getByText("Format looks right.")).toBeVisible();
    await validateAndConnect(page, "Connected. Class pii is");

    // pii serves on its own key: a record of it gives the class a data key.
    const enc = await encryptIn(t.slug, t.serviceToken!, "pii", "a social security number");
    expect(enc.status).toBe(200);
    await page.goto(`/t/${t.slug}`);
    await expect(piiCard.getByTestId("class-key-id")).toHaveText(piiKey);
    await expect(piiCard.getByTestId("class-deks")).toHaveText("1 / 1");
    await expect(piiCard).toHaveAttribute("data-state", "active");
    // Only a class without data keys can be removed.
    await expect(piiCard.getByRole("button", { name: "Remove class pii" })).toHaveCount(0);

    // --- a secondary key for pii on Azure, through the same wizard
    await piiCard.getByRole("link", { name: "Add secondary key to pii" }).click();
    await expect(page.getByRole("heading", { name: "Add a secondary key to class pii" })).toBeVisible();
    await expect(page.getByRole("radio", { name: /Secondary key/ })).toBeChecked();
    await page.getByRole("radio", { name: "Azure Key Vault" }).check();
    const secondaryUri = await azure.createKey("RSA");
    await page.getByLabel("Key URI (versionless)").fill(secondaryUri);
    await expect(page.getByText("Format looks right.")).toBeVisible();
    const appId = /--assignee (\S+)/.exec((await page.getByTestId("grant-azure-cli").textContent())!)![1]!;
    await azure.setVendorAccess(secondaryUri, true, appId);
    await validateAndConnect(page, "Connected as the secondary key of pii.");

    await page.goto(`/t/${t.slug}`);
    await expect(piiCard.getByTestId("secondary-key-id")).toHaveText(secondaryUri);
    const coverage = piiCard.getByRole("progressbar", { name: "Secondary key coverage of pii" });
    await expect(coverage).toHaveAttribute("aria-valuenow", "100", { timeout: 30_000 });
    await expect(piiCard.getByTestId("coverage-wrapped")).toHaveText("1 / 1");
    await expect(defaultCard.getByTestId("secondary-key")).toHaveCount(0);

    // --- the failover drill goes through the secondary and reports
    await piiCard.getByRole("button", { name: "Run failover drill on pii" }).click();
    const report = piiCard.getByTestId("failover-drill-report");
    await expect(report).toHaveAttribute("data-ok", "true", { timeout: 30_000 });
    await expect(report.getByTestId("drill-failed")).toHaveText("0");
    await expect(report).toContainText(secondaryUri);
    await screenshot(page, "tenant-data-classes");
    await expectAccessible(page, "tenant overview with data classes");

    // --- kill switch of pii alone
    await piiCard.getByRole("button", { name: "Lock class pii" }).click();
    const dialog = page.getByRole("dialog", { name: "Lock class pii now?" });
    await dialog.getByLabel("Reason (recorded in the audit log)").fill("e2e pii lock");
    await dialog.getByRole("button", { name: "Lock pii" }).click();
    await expect(piiCard).toHaveAttribute("data-state", "locked");
    await expect(piiCard.getByTestId("class-lock")).toContainText("e2e pii lock");
    await expect(defaultCard).toHaveAttribute("data-state", "active");
    await expect(page.getByTestId("tenant-state")).toHaveText("active");
    const refused = await encryptIn(t.slug, t.serviceToken!, "pii", "after the lock");
    expect(refused.status).toBe(423);
    expect((refused.body as unknown as { error: { code: string; dataClass?: string } }).error).toMatchObject({ code: "tenant_locked", dataClass: "pii" });
    expect((await encryptIn(t.slug, t.serviceToken!, "default", "default keeps serving")).status).toBe(200);
    await screenshot(page, "tenant-data-class-locked");
    await expectAccessible(page, "tenant overview with a locked data class");

    await piiCard.getByRole("button", { name: "Unlock class pii" }).click();
    await expect(piiCard).toHaveAttribute("data-state", "active");
    await expect(piiCard.getByTestId("class-locks")).toContainText("kill_switch");
    expect((await encryptIn(t.slug, t.serviceToken!, "pii", "after the unlock")).status).toBe(200);
  } finally {
    aws.close();
  }
});

test("a class without data keys can be removed; its card goes", async ({ page }) => {
  const t = await createTenant("classrm", { awsKey: true });
  await signIn(page, t.adminEmail);
  const classes = page.getByTestId("data-classes");
  await classes.getByRole("button", { name: "New data class…" }).click();
  await classes.getByLabel("New data class name").fill("scratch");
  await classes.getByRole("button", { name: "Add data class" }).click();
  const card = page.getByTestId("class-card-scratch");
  await expect(card).toBeVisible();
  await card.getByRole("button", { name: "Remove class scratch" }).click();
  await page.getByRole("dialog", { name: "Remove data class scratch?" }).getByRole("button", { name: "Remove class" }).click();
  await expect(card).toHaveCount(0);
  await expect(classes).toHaveAttribute("data-count", "1");
  await expect(page.getByTestId("class-cards")).toHaveCount(0);
});
