// The broker instance of this process, for Next.js code (next-auth callbacks, server
// components). broker-runtime.ts puts it on globalThis before Next.js serves anything; only
// types are imported here, so the console's bundle never pulls in the KMS SDKs or Prisma.
import type { Broker } from "../broker/broker";

export function serverBroker(): Broker {
  const b = (globalThis as { __cmekBroker?: Broker }).__cmekBroker;
  if (!b) throw new Error("the broker runtime is not running in this process (start the console with server.ts)");
  return b;
}
