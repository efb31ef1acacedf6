// The broker context of this process, for Next.js code (next-auth callbacks, server
// components). broker-runtime.ts puts it on globalThis before Next.js serves anything; only
// types are imported here, so the console's bundle never pulls in the KMS SDKs or Prisma.
import type { BrokerContext } from "../broker/context";

export function serverBroker(): BrokerContext {
  const b = (globalThis as { __cmekBroker?: BrokerContext }).__cmekBroker;
  if (!b) throw new Error("the broker runtime is not running in this process (start the console with server.ts)");
  return b;
}
