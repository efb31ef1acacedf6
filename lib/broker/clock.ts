// The broker's notion of "now" for governance: access windows, break-glass expiry and the usage
// baselines read it, so tests inject a clock and move it instead of waiting for real minutes.
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
