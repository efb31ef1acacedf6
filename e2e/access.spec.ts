// Who may do what: vendor ops see every tenant but cannot lock or change keys; a tenant's
// admin gets 404 for another tenant's pages and APIs; an auditor cannot lock.
// Every test creates its own tenants (support/fixtures.ts createTenant), so none depends on the
// shared seed, on another spec, or on how many tenants the fleet holds.
import { randomBytes } from "node:crypto";
import { expect, test, type BrowserContext } from "@playwright/test";
import { callApi, createTenant, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

async function cookieHeaders(context: BrowserContext): Promise<Record<string, string>> {
  const c = (await context.cookies()).find((x) => x.name === "next-auth.session-token")!;
  return { cookie: `${c.name}=${c.value}`, "x-cmek-csrf": "1", origin: stack().url };
}

test("vendor ops sees every tenant, filters and searches on the server, pages the fleet API, and cannot lock or change keys", async ({ page, context }) => {
  // Three tenants sharing a random group word: one connected to an AWS key, two without a key.
  const group = randomBytes(3).toString("hex");
  const [withKey, noKey, third] = await Promise.all([createTenant(`ops${group}`, { awsKey: true }), createTenant(`ops${group}`), createTenant(`ops${group}`)]);
  await signIn(page, "ops@vendor.example");
  await expect(page).toHaveURL(/\/ops$/);
  for (const t of [withKey, noKey, third]) await expect(page.getByTestId(`fleet-row-${t.slug}`)).toBeVisible();
  await screenshot(page, "fleet");
  await expectAccessible(page, "fleet");

  // Filters and search are applied by the server.
  await page.getByRole("combobox", { name: "Provider" }).selectOption("aws");
  await expect(page.getByTestId(`fleet-row-${withKey.slug}`)).toBeVisible();
  await expect(page.getByTestId(`fleet-row-${noKey.slug}`)).toHaveCount(0);
  await page.getByRole("combobox", { name: "Provider" }).selectOption("");
  await page.getByRole("searchbox", { name: "Search" }).fill(noKey.slug);
  await expect(page.getByTestId(`fleet-row-${noKey.slug}`)).toBeVisible();
  await expect(page.getByTestId(`fleet-row-${withKey.slug}`)).toHaveCount(0);
  await page.getByRole("searchbox", { name: "Search" }).fill("");

  await page.getByRole("link", { name: withKey.name }).click();
  await expect(page).toHaveURL(new RegExp(`/ops/tenants/${withKey.slug}$`));
  await expect(page.getByTestId("tenant-overview")).toBeVisible();
  await expect(page.getByRole("button", { name: "Lock now" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Unlock" })).toHaveCount(0);
  await screenshot(page, "ops-tenant-detail");
  await expectAccessible(page, "ops tenant detail");

  const h = await cookieHeaders(context);
  expect((await callApi("POST", `/api/v1/tenants/${withKey.slug}/lock`, { headers: h, body: { reason: "ops" } })).status).toBe(403);
  expect((await callApi("PUT", `/api/v1/tenants/${withKey.slug}/key`, { headers: h, body: { provider: "aws", keyId: "arn:aws:kms:us-east-1:111111111111:key/x" } })).status).toBe(403);
  expect((await callApi("GET", `/api/v1/tenants/${withKey.slug}/health`, { headers: h })).status).toBe(200);
  // The search narrows the fleet to this test's three tenants: page 2 of size 2 holds the third.
  const fleet = await callApi("GET", `/api/v1/fleet?q=${group}&pageSize=2&page=2`, { headers: h });
  expect(fleet.status).toBe(200);
  expect(fleet.body.tenants).toHaveLength(1);
  expect(fleet.body.total).toBe(3);
});

test("a tenant admin gets 404 for another tenant's pages and APIs", async ({ page, context }) => {
  const [own, other] = await Promise.all([createTenant("acme"), createTenant("globex")]);
  await signIn(page, own.adminEmail);
  for (const p of [`/t/${other.slug}`, `/t/${other.slug}/key`, `/t/${other.slug}/tokens`, "/ops", `/ops/tenants/${other.slug}`]) {
    const res = await page.goto(p);
    expect(res?.status(), p).toBe(404);
  }
  await expect(page.getByRole("heading", { name: "Not found" })).toBeVisible();
  const h = await cookieHeaders(context);
  for (const [method, p] of [
    ["GET", `/api/v1/tenants/${other.slug}`],
    ["GET", `/api/v1/tenants/${other.slug}/health`],
    ["GET", `/api/v1/tenants/${other.slug}/tokens`],
    ["POST", `/api/v1/tenants/${other.slug}/lock`],
    ["GET", "/api/v1/fleet"],
  ] as const) {
    const r = await callApi(method, p, { headers: h, body: method === "POST" ? { reason: "x" } : undefined });
    expect(r.status, `${method} ${p}`).toBe(404);
  }
});

test("an auditor can read but cannot lock or reach service tokens", async ({ page, context }) => {
  const t = await createTenant("acme");
  await signIn(page, t.auditorEmail);
  await expect(page).toHaveURL(new RegExp(`/t/${t.slug}$`));
  await expect(page.getByTestId("tenant-overview")).toBeVisible();
  await expect(page.getByRole("button", { name: "Lock now" })).toHaveCount(0);
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Service tokens" })).toHaveCount(0);
  expect((await page.goto(`/t/${t.slug}/tokens`))?.status()).toBe(404);
  const h = await cookieHeaders(context);
  expect((await callApi("POST", `/api/v1/tenants/${t.slug}/lock`, { headers: h, body: { reason: "auditor" } })).status).toBe(403);
  expect((await callApi("GET", `/api/v1/tenants/${t.slug}/status`, { headers: h })).status).toBe(200);
});

test("a signed-out visit goes to sign-in, which refuses a wrong password and is accessible", async ({ page }) => {
  const t = await createTenant("acme");
  await page.goto(`/t/${t.slug}`);
  await expect(page).toHaveURL(/\/sign-in/);
  await screenshot(page, "sign-in");
  await expectAccessible(page, "sign-in");
  await page.getByLabel("Email").fill(t.adminEmail);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.locator(".alert-error")).toContainText("do not match");
});
