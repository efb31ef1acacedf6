import { test, expect } from "vitest";
test("node", () => { expect(process.versions.node.startsWith("24")).toBe(true); });
