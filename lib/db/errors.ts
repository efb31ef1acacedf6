// Telling "the database cannot be reached right now" from every other failure. Such errors come
// from pg (server codes 57P01/57P02/57P03 and class 08, socket codes, its own "connection
// terminated" messages), from Prisma (P1001/P1002/P1008/P1017/P2024, or a driver adapter error
// carrying one of the above) and from this module's DatabaseUnavailableError. The HTTP layer
// answers them with 503 database_unavailable and Retry-After instead of 500.

/** Raised where the broker itself knows the database is gone (a reserved session that lost its connection). */
export class DatabaseUnavailableError extends Error {
  override readonly name = "DatabaseUnavailableError";
  constructor(message = "database unavailable", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Server-side SQLSTATEs meaning the server is shutting down, starting, or the connection broke. */
const SERVER_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]);
/** Prisma's connection-level error codes: unreachable, timed out, closed, pool timeout. */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
/** pg raises these without a code when the socket goes away under a query or a pooled connect times out. */
const PG_MESSAGES = [
  /^Connection terminated/i,
  /connection error and is not queryable/i,
  /^timeout exceeded when trying to connect/i,
  /^Client was closed and is not queryable/i,
  /^Cannot use a pool after calling end/i,
];

function codeMeansUnavailable(code: unknown): boolean {
  if (typeof code !== "string") return false;
  return SERVER_CODES.has(code) || code.startsWith("08") || SOCKET_CODES.has(code) || PRISMA_CODES.has(code);
}

/** True when `err` (or anything in its cause chain, or an AggregateError's members) says the database is unreachable. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (depth > 6 || typeof err !== "object" || err === null) return false;
  if (err instanceof DatabaseUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } }; errors?: unknown };
  if (codeMeansUnavailable(e.code)) return true;
  const adapterCause = e.meta?.driverAdapterError?.cause;
  if (adapterCause && (ADAPTER_KINDS.has(String(adapterCause.kind)) || codeMeansUnavailable(adapterCause.code))) return true;
  // DriverAdapterError itself (thrown by the adapter outside a Prisma query) carries the same cause shape.
  const direct = (err as { name?: unknown; cause?: { kind?: unknown; code?: unknown } }).cause;
  if ((err as { name?: unknown }).name === "DriverAdapterError" && direct && (ADAPTER_KINDS.has(String(direct.kind)) || codeMeansUnavailable(direct.code))) return true;
  if (typeof e.message === "string" && PG_MESSAGES.some((re) => re.test(e.message as string))) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** SQLSTATE raised by the trigger that refuses a DEK for a shredded tenant (migration 0008). */
const SHREDDED_CODE = "CM410";

/** True when `err` (or its cause chain) is the database refusing to store a DEK of a shredded tenant. */
export function isShreddedTenantWrite(err: unknown, depth = 0): boolean {
  if (depth > 6 || typeof err !== "object" || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
  if (e.code === SHREDDED_CODE) return true;
  if (typeof e.message === "string" && e.message.includes("no data key may be stored for it")) return true;
  return isShreddedTenantWrite(e.cause, depth + 1) || isShreddedTenantWrite(e.meta?.driverAdapterError, depth + 1);
}
