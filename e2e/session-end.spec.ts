// Finding #14: signing out ends the session on the server, not just in this browser. A copy
// of the session cookie taken before signing out is refused by the API (401) and by the
// console's pages (back to sign-in).
import { expect, test } from "@playwright/test";
import { callApi, signIn } from "./support/fixtures";

test("a session cookie copied before sign-out is refused by the API and the console afterwards", async ({ page, context, browser }) => {
  await signIn(page, "admin@initech.example");
  await expect(page).toHaveURL(/\/t\/initech$/);
  const cookie = (await context.cookies()).find((c) => c.name === "next-auth.session-token")!;
  const copied = { cookie: `${cookie.name}=${cookie.value}` };
  expect((await callApi("GET", "/api/v1/me", { headers: copied })).status).toBe(200);

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL((u) => u.pathname.startsWith("/sign-in"));

  // The API: the copied cookie no longer authenticates.
  const me = await callApi("GET", "/api/v1/me", { headers: copied });
  expect(me.status).toBe(401);
  expect((await callApi("GET", "/api/v1/tenants/initech", { headers: copied })).status).toBe(401);

  // The console: another browser holding the copied cookie is sent to sign-in.
  const thief = await browser.newContext();
  try {
    await thief.addCookies([{ ...cookie }]);
    const stolen = await thief.newPage();
    await stolen.goto("/t/initech");
    await expect(stolen).toHaveURL(/\/sign-in/);
    await expect(stolen.getByRole("button", { name: "Sign in", exact: true })).toBeVisible();
  } finally {
    await thief.close();
  }

  // Signing in again gives a working session.
  await signIn(page, "admin@initech.example");
  await expect(page).toHaveURL(/\/t\/initech$/);
  const fresh = (await context.cookies()).find((c) => c.name === "next-auth.session-token")!;
  expect((await callApi("GET", "/api/v1/me", { headers: { cookie: `${fresh.name}=${fresh.value}` } })).status).toBe(200);
});
