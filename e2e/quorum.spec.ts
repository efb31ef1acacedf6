// M-of-N approvals and passkey step-up in the console (issue 13). The tenant admin sets a 2-of-3
// quorum on unlock; after a kill switch the admin's unlock waits, and a second and a third admin
// approve it in their own browser contexts. A passkey is enrolled and used for step-up with
// Chromium's DevTools virtual authenticator (CDP WebAuthn domain).
import { expect, test, type Page } from "@playwright/test";
import { callApi, createTenant, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

test("the tenant admin sets a 2-of-3 quorum; a second and third admin approve an unlock in their own contexts", async ({ page, browser }) => {
  const t = await createTenant("quorum", { awsKey: true, extraAdmins: 2 });
  await signIn(page, t.adminEmail);
  await page.goto(`/t/${t.slug}/approvals`);
  await page.getByLabel("Unlock after a kill switch").check();
  await page.getByLabel(/Approvals needed/).fill("2");
  await page.getByRole("button", { name: "Save quorum policy" }).click();
  await expect(page.getByText("Quorum policy saved.")).toBeVisible();
  await expectAccessible(page, "approvals page");

  expect((await callApi("POST", `/api/v1/tenants/${t.slug}/lock`, { token: stack().adminToken, body: { reason: "e2e kill switch" } })).status).toBe(200);
  await page.goto(`/t/${t.slug}`);
  await page.getByRole("button", { name: "Unlock" }).click();
  await expect(page.getByText(/Unlock requested/)).toBeVisible();

  const approveAs = async (email: string, expected: RegExp) => {
    const ctx = await browser.newContext();
    const other = await ctx.newPage();
    await signIn(other, email);
    await other.goto(`/t/${t.slug}/approvals`);
    const row = other.getByRole("row", { name: /Unlock after a kill switch/ }).first();
    await row.getByRole("button", { name: "Approve" }).click();
    await expect(row).toContainText(expected);
    await screenshot(other, `approval-${email.split("@")[0]}`);
    await ctx.close();
  };
  await approveAs(`admin2@${t.slug}.example`, /1 of 2/);
  const state = async () => ((await callApi<{ tenant: { state: string } }>("GET", `/api/v1/tenants/${t.slug}`, { token: stack().adminToken })).body.tenant.state);
  expect(await state()).toBe("locked");
  await approveAs(`admin3@${t.slug}.example`, /executed/);
  expect(await state()).toBe("active");
  await page.goto(`/t/${t.slug}/approvals`);
  await expect(page.getByRole("row", { name: /Unlock after a kill switch/ }).first()).toContainText("executed");
});

async function virtualAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
}

test("a passkey is enrolled, then a sensitive action needs a passkey assertion instead of a password", async ({ page }) => {
  const t = await createTenant("passkey", { awsKey: true });
  await virtualAuthenticator(page);
  await signIn(page, t.adminEmail);
  await page.goto("/account/security");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByText("Passkey added.")).toBeVisible();
  await expect(page.getByTestId("factor-passkey")).toBeVisible();

  // A fresh password sign-in no longer suffices: the kill switch asks for the passkey.
  await page.goto(`/t/${t.slug}`);
  await page.getByRole("button", { name: "Lock now" }).click();
  await page.getByLabel("Reason (recorded in the audit log)").fill("e2e passkey step-up");
  await page.getByRole("button", { name: "Lock and stop all decryption" }).click();
  const stepUp = page.getByRole("dialog", { name: "Confirm with your passkey or authenticator" });
  await expect(stepUp).toBeVisible();
  await stepUp.getByRole("button", { name: "Use passkey" }).click();
  await expect(stepUp).toBeHidden();
  await expect.poll(async () => (await callApi<{ tenant: { state: string } }>("GET", `/api/v1/tenants/${t.slug}`, { token: stack().adminToken })).body.tenant.state).toBe("locked");
  await screenshot(page, "passkey-step-up");
});
