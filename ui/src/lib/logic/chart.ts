// Geometry for the SVG charts (history bars, insights area, sparklines).

export type Pt = { x: number; y: number };

/** A "nice" upper bound for an axis: 1, 2, 2.5, 5 × 10^n at or above max. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const exp = Math.floor(Math.log10(max));
  const base = 10 ** exp;
  for (const m of [1, 2, 2.5, 5, 10]) if (m * base >= max) return m * base;
  return 10 * base;
}

/** Evenly spaced whole-number ticks from 0 to at least `max` (counts are integers). */
export function ticks(max: number, n = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const top = niceMax(max);
  const step = top / n;
  if (step >= 1 && Number.isInteger(step)) return Array.from({ length: n + 1 }, (_, i) => step * i);
  const s = Math.max(1, Math.ceil(step));
  const out: number[] = [];
  for (let v = 0; v < max + s; v += s) out.push(v);
  return out;
}

/** The axis top that matches `ticks`. */
export function axisTop(max: number, n = 4): number {
  const t = ticks(max, n);
  return t[t.length - 1] ?? 1;
}

/** Polyline points of a sparkline in a w×h box (values oldest first). */
export function sparkPoints(values: ReadonlyArray<number>, w: number, h: number, pad = 1.5): Pt[] {
  if (values.length === 0) return [];
  const max = Math.max(...values, 0);
  const step = values.length > 1 ? (w - 2 * pad) / (values.length - 1) : 0;
  return values.map((v, i) => ({
    x: pad + i * step,
    y: max > 0 ? h - pad - (v / max) * (h - 2 * pad) : h - pad,
  }));
}

export function pointsAttr(pts: ReadonlyArray<Pt>): string {
  return pts.map((p) => `${round(p.x)},${round(p.y)}`).join(" ");
}

/** Closed area path under a polyline down to baseline y=h. */
export function areaPath(pts: ReadonlyArray<Pt>, h: number): string {
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (!first || !last) return "";
  return (
    `M${round(first.x)},${round(h)} ` +
    pts.map((p) => `L${round(p.x)},${round(p.y)}`).join(" ") +
    ` L${round(last.x)},${round(h)} Z`
  );
}

export type SparkShape = { total: number; area: string; line: string };

const sparkCache = new WeakMap<ReadonlyArray<number>, Map<string, SparkShape>>();

/** A sparkline's total and SVG strings, memoized per values array (key lists are replaced, not
 * mutated, so an array's identity stands for its contents): scrolling the table re-renders the
 * same keys' sparklines without rebuilding their paths. */
export function sparkShape(values: ReadonlyArray<number>, w: number, h: number): SparkShape {
  let byBox = sparkCache.get(values);
  if (!byBox) {
    byBox = new Map();
    sparkCache.set(values, byBox);
  }
  const box = `${w}x${h}`;
  let s = byBox.get(box);
  if (!s) {
    const pts = sparkPoints(values, w, h);
    s = { total: values.reduce((a, b) => a + b, 0), area: areaPath(pts, h), line: pointsAttr(pts) };
    byBox.set(box, s);
  }
  return s;
}

export type Bar = { x: number; y: number; w: number; h: number; value: number; index: number };

/** Bars for `values` in a plot area of width w and height h, with a gap ratio between bars. */
export function bars(values: ReadonlyArray<number>, w: number, h: number, gap = 0.2): Bar[] {
  const n = values.length;
  if (n === 0) return [];
  const top = axisTop(Math.max(...values, 0));
  const slot = w / n;
  const bw = Math.max(1, slot * (1 - gap));
  return values.map((v, i) => {
    const bh = top > 0 ? (Math.max(0, v) / top) * h : 0;
    return { x: i * slot + (slot - bw) / 2, y: h - bh, w: bw, h: bh, value: v, index: i };
  });
}

/** Which label indices to show so that at most `max` labels appear, evenly spread. */
export function labelIndices(n: number, max: number): number[] {
  if (n <= 0) return [];
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const step = Math.ceil(n / max);
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
