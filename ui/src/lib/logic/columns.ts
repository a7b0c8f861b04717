// The keys table's columns: what each shows, how wide it may get, and how much it matters
// (priority 1 is never hidden). The table lays them out as one CSS grid template. A column may
// be resized by its header's edge (the width kept in local storage); a window too narrow for the
// shown columns first hides the lowest-priority ones ("hidden to fit", listed by the column
// chooser), and scrolls sideways only when the columns that cannot be hidden still do not fit.
import type { SortKey } from "./keys";

export type ColumnId = "name" | "owner" | "api" | "scopes" | "status" | "key" | "created" | "last_verified" | "verifications" | "activity";

export type Column = {
  id: ColumnId;
  label: string;
  /** What a click on its header sorts by (none: not sortable). */
  sort: SortKey | null;
  /** Narrowest width, px. */
  min: number;
  /** Share of the width left over (0: fixed at `min`). */
  grow: number;
  /** 1 is always shown; higher numbers are the first to hide (to fit a narrow window, the
   * rightmost of a priority goes first). */
  priority: 1 | 2 | 3;
  right?: boolean;
};

export const COLUMNS: ReadonlyArray<Column> = [
  { id: "name", label: "Name", sort: "name", min: 190, grow: 2, priority: 1 },
  { id: "owner", label: "Owner", sort: "owner", min: 110, grow: 1, priority: 2 },
  { id: "api", label: "API", sort: "api", min: 92, grow: 0.8, priority: 2 },
  { id: "scopes", label: "Scopes", sort: null, min: 80, grow: 0.6, priority: 2 },
  { id: "status", label: "Status", sort: "status", min: 84, grow: 0, priority: 1 },
  { id: "key", label: "Key", sort: null, min: 70, grow: 0, priority: 2 },
  { id: "created", label: "Created", sort: "created", min: 80, grow: 0, priority: 3 },
  { id: "last_verified", label: "Last verified", sort: "last_verified", min: 96, grow: 0, priority: 1 },
  { id: "verifications", label: "Verifications", sort: "verifications", min: 88, grow: 0, priority: 3, right: true },
  { id: "activity", label: "7 days", sort: "activity", min: 76, grow: 0, priority: 2 },
];

/** The selection checkbox's column, px. */
export const CHECK_WIDTH = 34;

/** The columns shown, in table order. Priority 1 columns cannot be hidden. */
export function shownColumns(hidden: ReadonlySet<string>): Column[] {
  return COLUMNS.filter((c) => c.priority === 1 || !hidden.has(c.id));
}

/** Widths the user gave columns by dragging or with the arrow keys, px. */
export type Widths = Partial<Record<ColumnId, number>>;

/** The widest a column may be dragged, px. */
export const MAX_WIDTH = 800;
/** One press of Left or Right on a column's resize handle, px. */
export const RESIZE_STEP = 16;

/** The narrowest a column gets: the width the user gave it, else its minimum. */
export function widthOf(c: Column, widths: Widths = {}): number {
  const w = widths[c.id];
  return w === undefined ? c.min : clampWidth(c, w);
}

/** A width kept between the column's minimum and MAX_WIDTH, whole pixels. */
export function clampWidth(c: Column, w: number): number {
  return Math.round(Math.min(MAX_WIDTH, Math.max(c.min, Number.isFinite(w) ? w : c.min)));
}

/** The grid template of the shown columns (the checkbox first): a resized column has its
 * width, the others their minimum and a share of what is left. */
export function gridTemplate(cols: ReadonlyArray<Column>, widths: Widths = {}): string {
  return [
    `${CHECK_WIDTH}px`,
    ...cols.map((c) => (widths[c.id] !== undefined ? `${widthOf(c, widths)}px` : c.grow > 0 ? `minmax(${c.min}px, ${c.grow}fr)` : `${c.min}px`)),
  ].join(" ");
}

/** The width under which the shown columns no longer fit and the table scrolls sideways, px. */
export function minTableWidth(cols: ReadonlyArray<Column>, widths: Widths = {}): number {
  return CHECK_WIDTH + cols.reduce((w, c) => w + widthOf(c, widths), 0);
}

/** Each shown column's width in a table `available` px wide, as the grid template lays them
 * out (CSS grid's flexible tracks): resized and fixed columns at their width, the rest share
 * what is left by their `grow`, never under their minimum. Not measured yet (0): minimums. */
export function trackWidths(cols: ReadonlyArray<Column>, available: number, widths: Widths = {}): Map<ColumnId, number> {
  const out = new Map<ColumnId, number>();
  let flex = cols.filter((c) => widths[c.id] === undefined && c.grow > 0);
  for (const c of cols) if (!flex.includes(c)) out.set(c.id, widthOf(c, widths));
  let fixed = CHECK_WIDTH + [...out.values()].reduce((a, b) => a + b, 0);
  // A flexible column whose share is under its minimum is held at its minimum; the others
  // share again what is left.
  for (;;) {
    const share = flex.reduce((a, c) => a + c.grow, 0);
    const fr = share > 0 ? Math.max(0, available - fixed) / share : 0;
    const held = flex.filter((c) => c.min >= c.grow * fr);
    if (held.length === 0) {
      for (const c of flex) out.set(c.id, c.grow * fr);
      break;
    }
    for (const c of held) {
      out.set(c.id, c.min);
      fixed += c.min;
    }
    flex = flex.filter((c) => !held.includes(c));
  }
  return out;
}

/** The columns a table `available` px wide shows: the shown ones, less the lowest-priority
 * hideable ones (the rightmost of a priority first) until they fit. What still does not fit
 * scrolls sideways. `available` 0 (not measured yet) hides nothing. */
export function fitColumns(cols: ReadonlyArray<Column>, available: number, widths: Widths = {}): { shown: Column[]; fitHidden: ColumnId[] } {
  const shown = [...cols];
  const fitHidden: ColumnId[] = [];
  if (available <= 0) return { shown, fitHidden };
  while (minTableWidth(shown, widths) > available) {
    let drop = -1;
    for (let i = 0; i < shown.length; i++) {
      const c = shown[i];
      if (c && c.priority > 1 && (drop < 0 || c.priority >= (shown[drop]?.priority ?? 0))) drop = i;
    }
    if (drop < 0) break;
    const [gone] = shown.splice(drop, 1);
    if (gone) fitHidden.push(gone.id);
  }
  return { shown, fitHidden };
}

/** The widths after column `id` is given width `w` (null: back to its default). */
export function resized(widths: Widths, id: ColumnId, w: number | null): Widths {
  const next: Widths = { ...widths };
  const c = COLUMNS.find((x) => x.id === id);
  if (!c || w === null) delete next[id];
  else next[id] = clampWidth(c, w);
  return next;
}

/** The widths as saved (unknown columns and unreadable values dropped, the rest clamped). */
export function parseWidths(saved: string | null): Widths {
  const out: Widths = {};
  if (!saved) return out;
  try {
    const v: unknown = JSON.parse(saved);
    if (typeof v !== "object" || v === null || Array.isArray(v)) return out;
    for (const c of COLUMNS) {
      const w = (v as Record<string, unknown>)[c.id];
      if (typeof w === "number" && Number.isFinite(w)) out[c.id] = clampWidth(c, w);
    }
  } catch {
    /* unreadable: every column at its default width */
  }
  return out;
}

/** The widths to save (null: nothing to keep). */
export function serializeWidths(widths: Widths): string | null {
  return Object.keys(widths).length === 0 ? null : JSON.stringify(widths);
}

/** The hidden columns as saved (unknown and always-shown ids dropped). */
export function parseHidden(saved: string | null): Set<ColumnId> {
  const out = new Set<ColumnId>();
  if (!saved) return out;
  try {
    const ids: unknown = JSON.parse(saved);
    if (!Array.isArray(ids)) return out;
    for (const c of COLUMNS) if (c.priority !== 1 && ids.includes(c.id)) out.add(c.id);
  } catch {
    /* unreadable: every column shown */
  }
  return out;
}

/** A key told apart from its neighbours: its last characters (every key of an environment
 * starts the same), e.g. "…4W87". */
export function keyTail(suffix: string | null): string {
  return `…${suffix ?? "????"}`;
}
