// Kept for older imports; the helpers live in ./http.
export { listenTracked } from "./http";
