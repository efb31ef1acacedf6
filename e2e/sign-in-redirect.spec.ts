// Finding #7: the callbackUrl of the sign-in page cannot send the browser to another site.
// `/\evil.example/x` and `/<tab>/evil.example/x` both read as `//evil.example/x` to a browser.
import { expect, test, type Page } from "@playwright/test";
import { passwordOf, signIn, stack } from "./support/fixtures";

const HOSTILE = ["/%5Cevil.example/x", "/%09/evil.example/x", "/%5C%5Cevil.example/x", "//evil.example/x", "https://evil.example/x", "javascript:alert(1)"];

/** Any request that does reach evil.example is answered locally (no DNS), so a wrong redirect shows up as a URL, not a hang. */
async function trapEvil(page: Page): Promise<string[]> {
  const reached: string[] = [];
  await page.route((u) => u.hostname === "evil.example", (route) => {
    reached.push(route.request().url());
    return route.fulfill({ status: 200, contentType: "text/html", body: "<h1>evil</h1>" });
  });
  return reached;
}

for (const callbackUrl of HOSTILE) {
  test(`after a password sign-in with callbackUrl=${callbackUrl} the browser stays on the console`, async ({ page }) => {
    const origin = new URL(stack().url).origin;
    const reached = await trapEvil(page);
    await page.goto(`/sign-in?callbackUrl=${callbackUrl}`);
    await page.getByLabel("Email").fill("ops@vendor.example");
    await page.getByLabel("Password").fill(passwordOf("ops@vendor.example"));
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
    await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
    expect(new URL(page.url()).origin).toBe(origin);
    expect(reached).toEqual([]);
  });
}

test("a same-origin callbackUrl is followed after sign-in", async ({ page }) => {
  await page.goto("/sign-in?callbackUrl=%2Fops%3Fprovider%3Daws");
  await page.getByLabel("Email").fill("ops@vendor.example");
  await page.getByLabel("Password").fill(passwordOf("ops@vendor.example"));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL((u) => u.pathname === "/ops");
  expect(new URL(page.url()).search).toBe("?provider=aws");
});

test("an already signed-in visit to the sign-in page with a hostile callbackUrl stays on the console", async ({ page }) => {
  const reached = await trapEvil(page);
  await signIn(page, "ops@vendor.example");
  await page.goto("/sign-in?callbackUrl=/%5Cevil.example/x");
  await expect(page).toHaveURL(/\/ops$/);
  expect(reached).toEqual([]);
});
