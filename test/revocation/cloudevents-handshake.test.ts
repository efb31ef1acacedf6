// Event Grid validates a CloudEvents endpoint with an OPTIONS request before delivering to it.
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHarness, type Harness } from "../support/broker-harness";

const SECRET = "eventgrid-secret-0123456789";
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ BROKER_EVENTGRID_SECRET: SECRET });
});
afterAll(async () => {
  await h?.close();
});

test("the CloudEvents OPTIONS handshake is granted to Event Grid with the shared secret, and only then", async () => {
  const url = `/api/v1/kms-events/azure?secret=${SECRET}`;
  const ok = await h.api.call("OPTIONS", url, { headers: { "webhook-request-origin": "eventgrid.azure.net" } });
  expect(ok.status).toBe(200);
  expect(ok.headers.get("webhook-allowed-origin")).toBe("eventgrid.azure.net");
  expect(ok.headers.get("webhook-allowed-rate")).toBe("*");

  const wrongSecret = await h.api.call("OPTIONS", "/api/v1/kms-events/azure?secret=nope-nope-nope-nope", { headers: { "webhook-request-origin": "eventgrid.azure.net" } });
  expect(wrongSecret.status).toBe(403);
  expect(wrongSecret.headers.get("webhook-allowed-origin")).toBeNull();
  const otherOrigin = await h.api.call("OPTIONS", url, { headers: { "webhook-request-origin": "evil.example" } });
  expect(otherOrigin.status).toBe(403);
});
