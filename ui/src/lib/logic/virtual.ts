// Windowing math for the virtualized table: which rows to render for a scroll position.

export type Window = {
  /** First row index rendered (inclusive). */
  start: number;
  /** Last row index rendered (exclusive). */
  end: number;
  /** Space above the first rendered row, px. */
  padTop: number;
  /** Space below the last rendered row, px. */
  padBottom: number;
  /** Full scroll height, px. */
  total: number;
};

export function visibleWindow(
  count: number,
  rowHeight: number,
  scrollTop: number,
  viewport: number,
  overscan = 8,
): Window {
  const total = Math.max(0, count * rowHeight);
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0, total: 0 };
  const maxTop = Math.max(0, total - viewport);
  const top = Math.min(Math.max(0, scrollTop), maxTop);
  const first = Math.floor(top / rowHeight);
  const last = Math.ceil((top + Math.max(0, viewport)) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, last + overscan);
  return { start, end, padTop: start * rowHeight, padBottom: (count - end) * rowHeight, total };
}

/** scrollTop that brings row `index` fully into view (keyboard navigation), or null if visible. */
export function scrollToReveal(
  index: number,
  rowHeight: number,
  scrollTop: number,
  viewport: number,
): number | null {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewport) return bottom - viewport;
  return null;
}
