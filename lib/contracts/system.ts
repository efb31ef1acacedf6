// Response schemas of the system routes.
import { z } from "zod";

export const ZHealthReady = z.object({
  status: z.literal("ok"),
  database: z.literal("ok"),
  databaseLatencyMs: z.number(),
  instance: z.string(),
});
export const ZHealthDegraded = z.object({ status: z.literal("degraded"), database: z.literal("unreachable"), instance: z.string() });

