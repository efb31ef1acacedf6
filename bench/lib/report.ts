// Each scenario returns a Section: printed rows (label, measured value, goal) plus the raw data
// written to bench/results/latest.json.
export interface Section {
  title: string;
  rows: Array<[label: string, value: string, goal?: string]>;
  notes: string[];
  data: Record<string, unknown>;
}

export interface Mode {
  quick: boolean;
}

export function printSection(s: Section): void {
  const w0 = Math.max(...s.rows.map((r) => r[0].length), 10);
  const w1 = Math.max(...s.rows.map((r) => r[1].length), 10);
  console.log(`\n${s.title}`);
  console.log("-".repeat(s.title.length));
  for (const [label, value, goal] of s.rows) console.log(`  ${label.padEnd(w0)}  ${value.padStart(w1)}${goal ? `   goal ${goal}` : ""}`);
  for (const n of s.notes) console.log(`  note: ${n}`);
}

export const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 0)} ms` : "n/a");
export const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);
export const fmtCores = (c: { bench: number; server: number; other: number }) =>
  `load gen+emulators ${c.bench.toFixed(2)} / server ${c.server.toFixed(2)} / other ${c.other.toFixed(2)} cores`;
