// Who may do what: vendor ops see every tenant but cannot lock or change keys; a tenant's
// admin gets 404 for another tenant's pages and APIs; an auditor cannot lock.
import { expect, test, type BrowserContext } from "@playwright/test";
import { callApi, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

async function cookieHeaders(context: BrowserContext): Promise<Record<string, string>> {
  const c = (await context.cookies()).find((x) => x.name === "next-auth.session-token")!;
  return { cookie: `${c.name}=${c.value}`, "x-cmek-csrf": "1", origin: stack().url };
}

test("vendor ops sees all tenants and cannot lock or change keys", async ({ page, context }) => {
  await signIn(page, "ops@vendor.example");
  await expect(page).toHaveURL(/\/ops$/);
  for (const slug of ["acme", "initech", "umbrella", "globex"]) await expect(page.getByTestId(`fleet-row-${slug}`)).toBeVisible();
  await screenshot(page, "fleet");
  await expectAccessible(page, "fleet");

  // Filters and search are applied by the server.
  await page.getByRole("combobox", { name: "Provider" }).selectOption("aws");
  await expect(page.getByTestId("fleet-row-initech")).toHaveCount(0);
  await page.getByRole("combobox", { name: "Provider" }).selectOption("");
  await page.getByRole("searchbox", { name: "Search" }).fill("umbr");
  await expect(page.getByTestId("fleet-row-umbrella")).toBeVisible();
  await expect(page.getByTestId("fleet-row-acme")).toHaveCount(0);
  await page.getByRole("searchbox", { name: "Search" }).fill("");

  await page.getByRole("link", { name: "Globex Inc." }).click();
  await expect(page).toHaveURL(/\/ops\/tenants\/globex$/);
  await expect(page.getByTestId("tenant-overview")).toBeVisible();
  await expect(page.getByRole("button", { name: "Lock now" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Unlock" })).toHaveCount(0);
  await screenshot(page, "ops-tenant-detail");
  await expectAccessible(page, "ops tenant detail");

  const h = await cookieHeaders(context);
  expect((await callApi("POST", "/api/v1/tenants/globex/lock", { headers: h, body: { reason: "ops" } })).status).toBe(403);
  expect((await callApi("PUT", "/api/v1/tenants/globex/key", { headers: h, body: { provider: "aws", keyId: "arn:aws:kms:us-east-1:111111111111:key/x" } })).status).toBe(403);
  expect((await callApi("GET", "/api/v1/tenants/globex/health", { headers: h })).status).toBe(200);
  const fleet = await callApi("GET", "/api/v1/fleet?pageSize=2&page=2", { headers: h });
  expect(fleet.status).toBe(200);
  expect(fleet.body.tenants).toHaveLength(2);
  expect(fleet.body.total).toBe(4);
});

test("a tenant admin gets 404 for another tenant's pages and APIs", async ({ page, context }) => {
  await signIn(page, "admin@acme.example");
  for (const p of ["/t/globex", "/t/globex/key", "/t/globex/tokens", "/ops", "/ops/tenants/globex"]) {
    const res = await page.goto(p);
    expect(res?.status(), p).toBe(404);
  }
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  const h = await cookieHeaders(context);
  for (const [method, p] of [
    ["GET", "/api/v1/tenants/globex"],
    ["GET", "/api/v1/tenants/globex/health"],
    ["GET", "/api/v1/tenants/globex/tokens"],
    ["POST", "/api/v1/tenants/globex/lock"],
    ["GET", "/api/v1/fleet"],
  ] as const) {
    const r = await callApi(method, p, { headers: h, body: method === "POST" ? { reason: "x" } : undefined });
    expect(r.status, `${method} ${p}`).toBe(404);
  }
});

test("an auditor can read but cannot lock", async ({ page, context }) => {
  await signIn(page, "auditor@acme.example");
  await expect(page).toHaveURL(/\/t\/acme$/);
  await expect(page.getByTestId("tenant-overview")).toBeVisible();
  await expect(page.getByRole("button", { name: "Lock now" })).toHaveCount(0);
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Service tokens" })).toHaveCount(0);
  expect((await page.goto("/t/acme/tokens"))?.status()).toBe(404);
  const h = await cookieHeaders(context);
  expect((await callApi("POST", "/api/v1/tenants/acme/lock", { headers: h, body: { reason: "auditor" } })).status).toBe(403);
  expect((await callApi("GET", "/api/v1/tenants/acme/status", { headers: h })).status).toBe(200);
});

test("sign-in refuses a wrong password and the sign-in page is accessible", async ({ page }) => {
  await page.goto("/t/acme");
  await expect(page).toHaveURL(/\/sign-in/);
  await screenshot(page, "sign-in");
  await expectAccessible(page, "sign-in");
  await page.getByLabel("Email").fill("admin@acme.example");
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator(".alert-error")).toContainText("do not match");
});
