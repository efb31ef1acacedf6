// A dependency-free stacked bar chart (inline SVG) for per-minute counts. The SVG is one image
// to assistive technology, named by a text summary that is also shown as the caption, so the
// numbers never depend on seeing colours; the legend names every series with its total.
export interface BarSeries {
  key: string;
  label: string;
  color: string;
}

export interface BarBucket {
  /** ISO time of the bucket's start. */
  at: string;
  values: Record<string, number>;
}

const hhmm = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

export function StackedBarChart({ buckets, series, summary, testId }: { buckets: BarBucket[]; series: BarSeries[]; summary: string; testId?: string }) {
  const W = 600;
  const H = 150;
  const top = 8;
  const bottom = 18;
  const plotH = H - top - bottom;
  const totals = buckets.map((b) => series.reduce((a, s) => a + (b.values[s.key] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const slot = W / Math.max(1, buckets.length);
  const barW = Math.max(1, slot * 0.75);
  const seriesTotals = series.map((s) => buckets.reduce((a, b) => a + (b.values[s.key] ?? 0), 0));
  const labelIdx = buckets.length > 1 ? [0, Math.floor((buckets.length - 1) / 2), buckets.length - 1] : [0];
  return (
    <figure style={{ margin: 0 }} data-testid={testId}>
      <svg className="bars" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary} preserveAspectRatio="none">
        <line className="axis" x1="0" y1={H - bottom} x2={W} y2={H - bottom} />
        <text x="2" y={top + 8}>
          {max}
        </text>
        {buckets.map((b, i) => {
          let y = H - bottom;
          return (
            <g key={b.at}>
              {series.map((s) => {
                const n = b.values[s.key] ?? 0;
                if (!n) return null;
                const h = (n / max) * plotH;
                y -= h;
                return <rect key={s.key} x={i * slot + (slot - barW) / 2} y={y} width={barW} height={h} fill={s.color} />;
              })}
            </g>
          );
        })}
        {buckets.length
          ? [...new Set(labelIdx)].map((i) => (
              <text key={i} x={Math.min(W - 30, Math.max(0, i * slot))} y={H - 4}>
                {hhmm(buckets[i]!.at)}
              </text>
            ))
          : null}
      </svg>
      <ul className="legend" aria-label="Legend">
        {series.map((s, i) => (
          <li key={s.key}>
            <span className="swatch" style={{ background: s.color }} aria-hidden="true" />
            {s.label}: {seriesTotals[i]}
          </li>
        ))}
      </ul>
      <figcaption className="hint">{summary}</figcaption>
    </figure>
  );
}
