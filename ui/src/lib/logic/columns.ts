// The keys table's columns: what each shows, how wide it may get, and how much it matters
// (priority 1 is never hidden). The table lays them out as one CSS grid template; a window too
// narrow for the shown columns scrolls sideways, and the column chooser hides or shows the rest.
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
  /** 1 is always shown; higher numbers are the first to hide. */
  priority: 1 | 2 | 3;
  right?: boolean;
};

export const COLUMNS: ReadonlyArray<Column> = [
  { id: "name", label: "Name", sort: "name", min: 190, grow: 2, priority: 1 },
  { id: "owner", label: "Owner", sort: "owner", min: 110, grow: 1, priority: 2 },
  { id: "api", label: "API", sort: "api", min: 92, grow: 0.8, priority: 2 },
  { id: "scopes", label: "Scopes", sort: null, min: 80, grow: 0.6, priority: 3 },
  { id: "status", label: "Status", sort: "status", min: 84, grow: 0, priority: 1 },
  { id: "key", label: "Key", sort: null, min: 70, grow: 0, priority: 2 },
  { id: "created", label: "Created", sort: "created", min: 80, grow: 0, priority: 3 },
  { id: "last_verified", label: "Last verified", sort: "last_verified", min: 96, grow: 0, priority: 1 },
  { id: "verifications", label: "Verifications", sort: "verifications", min: 88, grow: 0, priority: 2, right: true },
  { id: "activity", label: "7 days", sort: "activity", min: 76, grow: 0, priority: 2 },
];

/** The selection checkbox's column, px. */
export const CHECK_WIDTH = 34;

/** The columns shown, in table order. Priority 1 columns cannot be hidden. */
export function shownColumns(hidden: ReadonlySet<string>): Column[] {
  return COLUMNS.filter((c) => c.priority === 1 || !hidden.has(c.id));
}

/** The grid template of the shown columns (the checkbox first). */
export function gridTemplate(cols: ReadonlyArray<Column>): string {
  return [`${CHECK_WIDTH}px`, ...cols.map((c) => (c.grow > 0 ? `minmax(${c.min}px, ${c.grow}fr)` : `${c.min}px`))].join(" ");
}

/** The width under which the shown columns no longer fit and the table scrolls sideways, px. */
export function minTableWidth(cols: ReadonlyArray<Column>): number {
  return CHECK_WIDTH + cols.reduce((w, c) => w + c.min, 0);
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
