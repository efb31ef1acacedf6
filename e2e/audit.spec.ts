// Audit dashboard: encrypt/decrypt done through the API appear live (SSE, no reload); filters,
// request-id search and the detail dialog; the JSONL export verifies offline with the CLI; the
// "Verify chain" button; the revocation drill's measured times; the fleet's KMS charts.
import { expect, test, type Page } from "@playwright/test";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { callApi, createTenant, expectAccessible, screenshot, signIn, stack, type E2eTenant } from "./support/fixtures";

// Each test has a tenant of its own (createTenant): none relies on what another one did.

const root = path.resolve(import.meta.dirname, "..");
const run = promisify(execFile);

function dataCall(t: E2eTenant, op: "encrypt" | "decrypt", body: Record<string, unknown>, requestId: string) {
  return callApi<Record<string, string>>("POST", `/api/v1/tenants/${t.slug}/${op}`, { token: t.serviceToken, body, headers: { "x-request-id": requestId } });
}

async function applyFilters(page: Page, f: { action?: string; outcome?: string; purpose?: string }) {
  const form = page.getByRole("form", { name: "Audit filters" });
  if (f.action !== undefined) await form.getByLabel("Action").selectOption(f.action);
  if (f.outcome !== undefined) await form.getByLabel("Outcome").selectOption(f.outcome);
  if (f.purpose !== undefined) await form.getByLabel("Purpose").fill(f.purpose);
  await form.getByRole("button", { name: "Apply filters" }).click();
}

test("audit dashboard is live, filters, opens details, exports and verifies", async ({ page }, testInfo) => {
  const s = stack();
  const t = await createTenant("globex", { serviceToken: true });
  await signIn(page, t.adminEmail);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log" }).click();
  await expect(page.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();
  await expect(page.getByTestId("stream-mode")).toHaveText("Live");
  // A marker on window: if the page reloaded, it would be gone.
  await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = 42));

  // --- an internal service encrypts and decrypts; the rows arrive over SSE
  const stamp = Date.now().toString(36);
  const purpose = `e2e-live-${stamp}`;
  const encId = `e2e-enc-${stamp}`;
  const decId = `e2e-dec-${stamp}`;
  const enc = await dataCall(t, "encrypt", { plaintext: Buffer.from("live row").toString("base64"), context: { table: "e2e" }, purpose }, encId);
  expect(enc.status).toBe(200);
  const dec = await dataCall(t, "decrypt", { ciphertext: enc.body.ciphertext, context: { table: "e2e" }, purpose }, decId);
  expect(dec.status).toBe(200);
  const table = page.getByTestId("audit-table");
  await expect(table.locator('tr[data-action="encrypt"]', { hasText: encId })).toBeVisible();
  await expect(table.locator('tr[data-action="decrypt"]', { hasText: decId })).toBeVisible();
  await expect(table.locator("tbody tr").first()).toContainText(/decrypt|kms\./);
  expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(42);
  // Still on the stream, not the polling fallback.
  await expect(page.getByTestId("stream-mode")).toHaveText("Live");
  await expect(page.getByTestId("activity-chart")).toContainText(/operations in the last 60 minutes/);
  await screenshot(page, "audit-dashboard");
  await expectAccessible(page, "audit dashboard");

  // --- filters go to the list API
  await applyFilters(page, { action: "decrypt", purpose });
  await expect(table.locator("tbody tr")).toHaveCount(1);
  await expect(table.locator("tbody tr").first()).toHaveAttribute("data-action", "decrypt");
  // Live while filtered: a matching event shows up, a non-matching one does not.
  const dec2Id = `e2e-dec2-${stamp}`;
  expect((await dataCall(t, "decrypt", { ciphertext: enc.body.ciphertext, context: { table: "e2e" }, purpose }, dec2Id)).status).toBe(200);
  expect((await dataCall(t, "encrypt", { plaintext: Buffer.from("x").toString("base64"), context: { table: "e2e" }, purpose }, `e2e-enc2-${stamp}`)).status).toBe(200);
  await expect(table.locator("tbody tr")).toHaveCount(2);
  await expect(table.locator("tbody tr").first()).toContainText(dec2Id);
  await expect(table.locator('tr[data-action="encrypt"]')).toHaveCount(0);

  await applyFilters(page, { action: "", outcome: "denied", purpose: "" });
  await expect(page.getByText("No events match these filters")).toBeVisible();
  await page.getByRole("button", { name: "Reset" }).click();
  await expect(table.locator('tr[data-action="encrypt"]').first()).toBeVisible();

  // --- search by request id
  const search = page.getByRole("search", { name: "Search by request id" });
  await search.getByLabel("Request id").fill(encId);
  await search.getByRole("button", { name: "Search" }).click();
  await expect(table.locator("tbody tr").first()).toContainText(encId);
  for (const row of await table.locator("tbody tr").all()) await expect(row).toContainText(encId);

  // --- detail dialog, opened from the keyboard; every field including the chain links
  const apiRow = (await callApi<{ events: Array<Record<string, unknown>> }>("GET", `/api/v1/tenants/${t.slug}/audit?requestId=${encId}&action=encrypt`, { token: s.adminToken })).body.events[0]!;
  const encRow = table.locator('tr[data-action="encrypt"]', { hasText: encId });
  await encRow.getByRole("button", { name: /Details/ }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: `Audit event #${String(apiRow.seq)}` });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId("detail-hash")).toHaveText(String(apiRow.hash));
  await expect(dialog.getByTestId("detail-prevHash")).toHaveText(String(apiRow.prevHash));
  await expect(dialog.getByTestId("detail-requestId")).toHaveText(encId);
  await expect(dialog).toContainText(purpose);
  await expect(dialog.getByTestId("detail-json")).toBeVisible();
  await screenshot(page, "audit-detail");
  await expectAccessible(page, "audit event detail");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await page.getByRole("button", { name: "Reset" }).click();

  // --- export: a real download that the offline verifier accepts
  const [jsonl] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-jsonl").click()]);
  expect(jsonl.suggestedFilename()).toMatch(new RegExp(`^audit-${t.slug}-.*\\.jsonl$`));
  const file = testInfo.outputPath("audit-globex.jsonl");
  await jsonl.saveAs(file);
  expect(readFileSync(file, "utf8")).toContain(encId);
  const verified = await run("npx", ["tsx", "scripts/audit-verify.ts", file], { cwd: root, env: { ...process.env, PATH: `${path.join(root, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}` } });
  expect(verified.stdout + verified.stderr).not.toMatch(/bad entry|FAIL/i);
  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
  expect(csv.suggestedFilename()).toMatch(/\.csv$/);
  const csvFile = testInfo.outputPath("audit-globex.csv");
  await csv.saveAs(csvFile);
  expect(readFileSync(csvFile, "utf8")).toContain(decId);

  // --- verify chain
  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByTestId("verify-result")).toContainText("Chain intact");
  await expect(page.getByTestId("verify-result")).toContainText(/\d+ entries verified/);
});

test("revocation drill completes, shows its measured times, leaves the tenant active and is audited", async ({ page }) => {
  const t = await createTenant("globex", { awsKey: true });
  await signIn(page, t.adminEmail);
  await expect(page.getByTestId("tenant-state")).toHaveText("active");
  await page.getByRole("button", { name: "Run revocation drill" }).click();
  const result = page.getByTestId("drill-result");
  await expect(result).toHaveAttribute("data-outcome", "completed", { timeout: 30_000 });
  await expect(page.getByTestId("drill-total")).toHaveText(/\d+(\.\d)? (ms|s)$/);
  await expect(page.getByTestId("drill-revalidation")).toHaveText(/\d+(\.\d)? (ms|s)$/);
  await expect(page.getByTestId("tenant-state")).toHaveText("active");
  await screenshot(page, "key-health-drill");
  await expectAccessible(page, "key health after a drill");
  // The drill is in the audit log.
  const drills = await callApi<{ events: unknown[] }>("GET", `/api/v1/tenants/${t.slug}/audit?action=tenant.drill`, { token: stack().adminToken });
  // A fresh tenant: any drill entry is this drill's.
  expect(drills.body.events.length).toBeGreaterThan(0);
});

test("an auditor reads and verifies the audit log but has no webhooks page", async ({ page }) => {
  const t = await createTenant("globex", { awsKey: true });
  await signIn(page, t.auditorEmail);
  await page.goto(`/t/${t.slug}/audit`);
  await expect(page.getByTestId("audit-table")).toBeVisible();
  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByTestId("verify-result")).toContainText("Chain intact");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" })).toHaveCount(0);
  expect((await page.goto(`/t/${t.slug}/webhooks`))?.status()).toBe(404);
});

test("vendor ops sees fleet KMS calls and errors per minute", async ({ page }) => {
  // Connecting a key makes KMS calls (wrap, unwrap): the chart has something to show even when this test runs alone.
  await createTenant("fleet", { awsKey: true });
  await signIn(page, "ops@vendor.example");
  await expect(page).toHaveURL(/\/ops$/);
  await expect(page.getByTestId("fleet-calls-chart")).toContainText(/\d+ KMS calls across all tenants/);
  await expect(page.getByTestId("fleet-errors-chart")).toBeVisible();
  await expect(page.getByTestId("fleet-calls-chart").locator("rect").first()).toBeVisible();
  await screenshot(page, "fleet-activity");
  await expectAccessible(page, "fleet with KMS charts");
});
