// Response shapes of the endpoints the tenant pages read, derived from the API's own response
// schemas (lib/http/schemas*.ts), which the API serializes every answer through.
// Type-only imports: the schemas are the one definition, and nothing of them ships to the browser.
import type { z } from "zod";
import type { ZDrillReport } from "@/lib/http/routes/drill";
import type { ZConnectKeyResponse, ZCreateTokenResponse, ZKey, ZTenant, ZTokenList, ZValidationStep } from "@/lib/http/schemas";
import type { ZWebhook, ZWebhookCreated, ZWebhookDelivery } from "@/lib/http/schemas/audit";
import type { ZConnectInfo, ZKeyRefCheck, ZTenantHealth } from "@/lib/http/schemas/tenants";
import type { ZShredResponse } from "@/lib/contracts/shredding";
import type { ZLifecycle } from "@/lib/contracts/lifecycle";
import type { ZClassHealth, ZConnectClassKeyResponse, ZDataClass, ZDataClassList, ZDataClassResponse, ZFailoverDrillResponse } from "@/lib/contracts/classes";

export type TenantInfo = z.infer<typeof ZTenant>;
export type KeyInfo = z.infer<typeof ZKey>;
export type ValidationStep = z.infer<typeof ZValidationStep>;
export type TenantHealth = z.infer<typeof ZTenantHealth>;
export type ConnectInfo = z.infer<typeof ZConnectInfo>;
export type KeyRefCheck = z.infer<typeof ZKeyRefCheck>;
export type ConnectKeyResult = z.infer<typeof ZConnectKeyResponse>;
/** POST /unlock answers like a key connection, without the key. */
export type UnlockResult = Omit<ConnectKeyResult, "key">;
export type TokenRow = z.infer<typeof ZTokenList>["tokens"][number];
export type TokenList = z.infer<typeof ZTokenList>;
export type CreatedToken = z.infer<typeof ZCreateTokenResponse>;
export type WebhookInfo = z.infer<typeof ZWebhook>;
export type WebhookCreated = z.infer<typeof ZWebhookCreated>;
export type WebhookDelivery = z.infer<typeof ZWebhookDelivery>;
export type DrillReport = z.infer<typeof ZDrillReport>;
export type ShredResult = z.infer<typeof ZShredResponse>;
export type Lifecycle = z.infer<typeof ZLifecycle>;
export type DataClassInfo = z.infer<typeof ZDataClass>;
export type DataClassList = z.infer<typeof ZDataClassList>;
/** A class as GET /health lists it: its card and its last locks. */
export type ClassHealth = z.infer<typeof ZClassHealth>;
export type DataClassCreated = z.infer<typeof ZDataClassResponse>;
export type ConnectClassKeyResult = z.infer<typeof ZConnectClassKeyResponse>;
export type FailoverDrillReport = z.infer<typeof ZFailoverDrillResponse>;
/** Which key of which class the connect wizard connects. */
export type KeyRole = NonNullable<DataClassInfo["key"]>["role"];
