// Webhooks page: add an endpoint (secret shown once, copied), the broker delivers the tenant's
// audit events to a receiver started here (signature checked), the delivery log shows it, remove.
import { expect, test } from "@playwright/test";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyWebhookSignature } from "../lib/audit/webhooks";
import { callApi, createTenant, expectAccessible, screenshot, signIn, stack } from "./support/fixtures";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

test("tenant admin adds a webhook, receives a signed delivery, sees it logged, never sees the secret again, removes it", async ({ page }) => {
  const t = await createTenant("umbrella");
  const received: Received[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  try {
    await signIn(page, t.adminEmail);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" }).click();
    await expect(page.getByRole("heading", { name: "Webhooks", level: 1 })).toBeVisible();
    await expect(page.getByText("No webhooks yet")).toBeVisible();
    await expectAccessible(page, "webhooks (empty)");

    await page.getByLabel("Endpoint URL").fill(url);
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const secret = (await page.getByTestId("new-webhook-secret").textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole("button", { name: "Copy secret" }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await expect(page.getByTestId("webhook-row")).toHaveAttribute("data-url", url);

    // The webhook.create event itself is after the subscription's cursor: it is delivered.
    await expect.poll(() => received.length, { timeout: 20_000 }).toBeGreaterThan(0);
    const first = received[0]!;
    const check = verifyWebhookSignature(secret, String(first.headers["x-cmek-timestamp"]), first.body, String(first.headers["x-cmek-signature"]));
    expect(check.ok).toBe(true);
    const payload = JSON.parse(first.body) as { events: Array<{ action: string }> };
    expect(payload.events.map((e) => e.action)).toContain("webhook.create");

    const deliveries = page.getByTestId("deliveries-table");
    await expect(deliveries.locator("tbody tr").first()).toContainText("HTTP 200");
    await screenshot(page, "webhooks");
    await expectAccessible(page, "webhooks with delivery log");

    // The secret is never shown again.
    await page.reload();
    await expect(page.getByTestId("new-webhook-secret")).toHaveCount(0);
    const list = await callApi("GET", `/api/v1/tenants/${t.slug}/webhooks`, { token: stack().adminToken });
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.body)).not.toContain(secret);

    await page.getByRole("button", { name: /^Remove/ }).click();
    const dialog = page.getByRole("dialog", { name: "Remove this webhook?" });
    await dialog.getByRole("button", { name: "Remove webhook" }).click();
    await expect(page.getByText("No webhooks yet")).toBeVisible();
  } finally {
    await new Promise((r) => receiver.close(r));
  }
});
