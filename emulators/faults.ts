// Kept for older imports: fault injection and call counting live in the shared control plane.
export { CallCounter, FaultInjector, type FaultAction, type FaultConfig, type FaultDecision } from "./control";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
