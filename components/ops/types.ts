// Response shapes of the fleet endpoints, derived from the API's response schemas (type-only).
import type { z } from "zod";
import type { ZFleetKmsActivity, ZFleetPage, ZFleetTenant } from "@/lib/http/schemas/fleet";

export type FleetTenant = z.infer<typeof ZFleetTenant>;
export type FleetPage = z.infer<typeof ZFleetPage>;
export type FleetKmsActivity = z.infer<typeof ZFleetKmsActivity>;
