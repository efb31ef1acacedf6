// Key switch as the tenant admin sees it: after connecting another key, the tenant page shows the
// re-wrap job's progress bar at 100 %, the per-version table, and next to the earlier key's
// version "no data depends on this version any more: it is safe to disable".
import { expect, test } from "@playwright/test";
import { AwsTenantActions } from "../emulators/tenant-actions";
import { callApi, createTenant, decrypt, encrypt, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

test("after a key switch the tenant page shows the finished re-wrap and that the old version is safe to disable", async ({ page }) => {
  const s = stack();
  const t = await createTenant("lifecycle", { serviceToken: true });
  const enc = await encrypt(t.slug, t.serviceToken!, "written under the first key");
  expect(enc.status).toBe(200);
  const aws = new AwsTenantActions(s.aws.url, s.aws.region);
  try {
    const { keyArn } = await aws.createKeyForVendor();
    const switched = await callApi("PUT", `/api/v1/tenants/${t.slug}/key`, { token: s.adminToken, body: { provider: "aws", keyId: keyArn } });
    expect(switched.status).toBe(200);

    await signIn(page, t.adminEmail);
    await expect(page).toHaveURL(new RegExp(`/t/${t.slug}$`));
    const card = page.getByTestId("key-lifecycle");
    await expect(card.getByTestId("rewrap-job")).toHaveAttribute("data-state", "completed", { timeout: 30_000 });
    await expect(card.getByRole("progressbar", { name: "Re-wrap progress" })).toHaveAttribute("aria-valuenow", "100");
    await expect(card.getByTestId("rewrap-done")).toHaveText("1 / 1");
    const oldRow = card.locator('[data-testid="lifecycle-version"][data-status="replaced"]');
    await expect(oldRow).toContainText(t.keyArn!);
    await expect(oldRow.getByTestId("safe-to-disable")).toHaveText("no data depends on this version any more: it is safe to disable");
    await expect(card.locator('[data-testid="lifecycle-version"][data-status="connected"]')).toHaveAttribute("data-deks", "1");
    await screenshot(page, "tenant-key-lifecycle");
    await expectAccessible(page, "tenant overview with key lifecycle");

    // And it is true: with the first key disabled, the old record still decrypts.
    await aws.disable(t.keyArn!);
    await expect.poll(async () => (await decrypt(t.slug, t.serviceToken!, enc.body.ciphertext)).status, { timeout: 10_000 }).toBe(200);
  } finally {
    aws.close();
  }
});
