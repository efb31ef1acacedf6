import { fmtMs } from "../format";

/** A small dependency-free line chart of per-minute median KMS latency. */
export function LatencyChart({ points }: { points: Array<{ minute: string; p50: number | null; max: number | null; calls: number; errors: number }> }) {
  const data = points.filter((p) => p.p50 !== null) as Array<{ minute: string; p50: number; max: number | null; calls: number; errors: number }>;
  if (data.length === 0) return <p className="muted">No KMS calls in the last hour.</p>;
  const W = 400;
  const H = 110;
  const maxY = Math.max(...data.map((d) => d.p50), 1);
  const x = (i: number) => (data.length === 1 ? W / 2 : (i / (data.length - 1)) * (W - 10) + 5);
  const y = (v: number) => H - 5 - (v / maxY) * (H - 15);
  const path = data.map((d, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(d.p50).toFixed(1)}`).join(" ");
  const calls = data.reduce((a, d) => a + d.calls, 0);
  const errors = data.reduce((a, d) => a + d.errors, 0);
  const summary = `Median KMS latency per minute over ${data.length} minute(s): from ${fmtMs(Math.min(...data.map((d) => d.p50)))} to ${fmtMs(maxY)}; ${calls} calls, ${errors} errors.`;
  return (
    <figure style={{ margin: 0 }}>
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} preserveAspectRatio="none">
        <line className="axis" x1="0" y1={H - 5} x2={W} y2={H - 5} />
        <path className="line" d={path} />
        {data.map((d, i) => (
          <circle key={d.minute} cx={x(i)} cy={y(d.p50)} r="2.5" fill={d.errors ? "var(--danger)" : "var(--primary)"} />
        ))}
      </svg>
      <figcaption className="hint">{summary}</figcaption>
    </figure>
  );
}
