// Audit-layer query errors (bad cursor, filters a verifiable export cannot take) are the caller's.
import { AuditQueryError } from "../../audit";
import { BrokerError } from "../errors";

export async function asInvalidRequest<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AuditQueryError) throw new BrokerError("invalid_request", e.message);
    throw e;
  }
}
