// Key lifecycle in the console: a scheduled deletion shows the date after which the data is
// unrecoverable, with the days left, and cancelling it resumes the tenant; crypto-shredding asks
// the tenant admin to type the slug before it destroys every data key.
import { DescribeKeyCommand } from "@aws-sdk/client-kms";
import { expect, test } from "@playwright/test";
import { AwsTenantActions } from "../emulators/tenant-actions";
import { createTenant, decrypt, encrypt, signIn, stack } from "./support/fixtures";

test("a scheduled deletion shows its date and days left; cancelling it resumes the tenant", async ({ page }) => {
  const s = stack();
  const t = await createTenant("deletion", { serviceToken: true });
  const aws = new AwsTenantActions(s.aws.url, s.aws.region);
  try {
    // Data in use, so the prober watches the key.
    const enc = await encrypt(t.slug, t.serviceToken!, "before the deletion");
    expect(enc.status).toBe(200);
    await signIn(page, t.adminEmail);
    await expect(page.getByTestId("tenant-state")).toHaveText("active");

    await aws.scheduleDeletion(t.keyArn!);
    const deletionDate = (await aws.client.send(new DescribeKeyCommand({ KeyId: t.keyArn! }))).KeyMetadata!.DeletionDate!;
    await expect(page.getByTestId("tenant-state")).toHaveText("locked");
    const window = page.getByTestId("deletion-window");
    await expect(window).toContainText("7 days left");
    await expect(window).toContainText("unrecoverable");
    expect(new Date((await window.getAttribute("data-unrecoverable-after"))!).getTime()).toBe(deletionDate.getTime());

    // AWS leaves a key whose deletion was cancelled Disabled; enabling it lets the prober resume the tenant.
    await aws.cancelDeletion(t.keyArn!);
    await aws.enable(t.keyArn!);
    await expect(page.getByTestId("tenant-state")).toHaveText("active", { timeout: 30_000 });
    await expect(page.getByTestId("deletion-window")).toHaveCount(0);
    await expect.poll(async () => (await decrypt(t.slug, t.serviceToken!, enc.body.ciphertext)).status, { timeout: 15_000 }).toBe(200);
  } finally {
    aws.close();
  }
});

test("crypto-shredding needs the tenant's slug typed out, then every decrypt gets 410", async ({ page }) => {
  const t = await createTenant("shred", { serviceToken: true });
  const enc = await encrypt(t.slug, t.serviceToken!, "offboarded data");
  expect(enc.status).toBe(200);
  await signIn(page, t.adminEmail);
  await expect(page.getByTestId("tenant-state")).toHaveText("active");

  await page.getByRole("button", { name: "Destroy all data keys…" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("This cannot be undone");
  const destroy = dialog.getByRole("button", { name: "Destroy data keys permanently" });
  await expect(destroy).toBeDisabled();
  const confirm = dialog.getByLabel(/Type the tenant's slug/);
  await confirm.fill(`${t.slug}x`);
  await expect(destroy).toBeDisabled();
  await confirm.fill(t.slug);
  await expect(destroy).toBeEnabled();
  await destroy.click();

  await expect(page.getByTestId("shredded-banner")).toBeVisible();
  await expect(page.getByTestId("shred-card")).toHaveCount(0);
  const d = await decrypt(t.slug, t.serviceToken!, enc.body.ciphertext);
  expect(d.status).toBe(410);
  expect((d.body as unknown as { error: { code: string } }).error.code).toBe("tenant_shredded");
});
