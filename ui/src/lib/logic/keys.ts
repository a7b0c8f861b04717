// The keys table's query, sort and window arithmetic. The app never holds the whole list: the
// table asks the core for windows (`windowQuery`, `pageSpan`). The filter and sort functions
// here are the search rule's UI side, pinned against the SQL side by the shared cases
// (search-cases.test.ts); no screen runs them over the store's keys.
import type { KeyView } from "../bindings/KeyView";
import type { KeyStatus } from "../bindings/KeyStatus";
import type { KeyType } from "../bindings/KeyType";
import type { KeyWindowQuery } from "../bindings/KeyWindowQuery";

export type KeyQuery = {
  search: string;
  status: KeyStatus | "";
  keyType: KeyType | "";
  org: string;
  user: string;
  api: string;
  flag: "" | "stale" | "rotation_due";
};

export const emptyQuery = (): KeyQuery => ({
  search: "",
  status: "",
  keyType: "",
  org: "",
  user: "",
  api: "",
  flag: "",
});

export type SortKey =
  | "name"
  | "owner"
  | "api"
  | "status"
  | "created"
  | "last_verified"
  | "verifications"
  | "activity";
export type SortDir = "asc" | "desc";
export type Sort = { key: SortKey; dir: SortDir };

/** Lower-cased haystack per key, computed once per list load. */
export function searchText(k: KeyView): string {
  return [k.name, k.key_prefix, k.key_suffix ?? "", k.id, k.owner_name ?? "", k.api_name ?? ""]
    .join("\u0000")
    .toLowerCase();
}

export function matches(k: KeyView, q: KeyQuery, hay?: string): boolean {
  if (q.status && k.status !== q.status) return false;
  if (q.keyType && k.type !== q.keyType) return false;
  if (q.org && k.org_code !== q.org) return false;
  if (q.user && k.user_id !== q.user) return false;
  if (q.api && !k.api_ids.includes(q.api)) return false;
  if (q.flag === "stale" && !k.stale) return false;
  if (q.flag === "rotation_due" && !k.rotation_due) return false;
  const s = q.search.trim().toLowerCase();
  if (s) {
    const h = hay ?? searchText(k);
    for (const term of s.split(/\s+/)) if (!h.includes(term)) return false;
  }
  return true;
}

// One collator for every comparison: much faster than String.prototype.localeCompare per call.
const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });
const cmp = (a: string, b: string): number => collator.compare(a, b);

const STATUS_ORDER: Record<KeyStatus, number> = { active: 0, inactive: 1, revoked: 2 };

/** Compares two RFC 3339 UTC timestamps (as Rust writes them) without parsing: their text
 * sorts in time order (to the second), which keeps a 10,000-key sort cheap. Null sorts first. */
function cmpTime(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  const x = a.slice(0, 19);
  const y = b.slice(0, 19);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function sum(xs: ReadonlyArray<number>): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

export function compareKeys(a: KeyView, b: KeyView, key: SortKey): number {
  switch (key) {
    case "name":
      return cmp(a.name, b.name);
    case "owner":
      return cmp(a.owner_name ?? "", b.owner_name ?? "");
    case "api":
      return cmp(a.api_name ?? "", b.api_name ?? "");
    case "status":
      return STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
    case "created":
      return cmpTime(a.created_on, b.created_on);
    case "last_verified":
      return cmpTime(a.last_verified_on, b.last_verified_on);
    case "verifications":
      return (a.verification_count ?? -1) - (b.verification_count ?? -1);
    case "activity":
      return sum(a.spark_7d) - sum(b.spark_7d);
  }
}

/** Lower-cased search terms of a query, split once (not once per key). */
export function searchTerms(search: string): string[] {
  const s = search.trim().toLowerCase();
  return s ? s.split(/\s+/) : [];
}

/** The search haystack of every key, by id: built once per list load, not per keystroke. */
export function searchIndex(keys: ReadonlyArray<KeyView>): Map<string, string> {
  const m = new Map<string, string>();
  for (const k of keys) m.set(k.id, searchText(k));
  return m;
}

/** Sorts a copy; stable (ties keep name order, then id). Run once per sort or list change. */
export function sortKeys(keys: ReadonlyArray<KeyView>, sort: Sort): KeyView[] {
  const out = keys.slice();
  const sign = sort.dir === "asc" ? 1 : -1;
  out.sort((a, b) => {
    const c = compareKeys(a, b, sort.key) * sign;
    if (c !== 0) return c;
    const n = cmp(a.name, b.name);
    return n !== 0 ? n : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return out;
}

const noFilter = (q: KeyQuery): boolean =>
  q.status === "" && q.keyType === "" && q.org === "" && q.user === "" && q.api === "" && q.flag === "" && q.search.trim() === "";

/** Filters (keeping order), e.g. an already sorted list on each keystroke. Returns `keys`
 * itself when nothing filters. */
export function filterKeys(
  keys: ReadonlyArray<KeyView>,
  q: KeyQuery,
  hay?: ReadonlyMap<string, string>,
): ReadonlyArray<KeyView> {
  if (noFilter(q)) return keys;
  const terms = searchTerms(q.search);
  const facets: KeyQuery = { ...q, search: "" };
  return keys.filter((k) => {
    if (!matches(k, facets)) return false;
    if (terms.length === 0) return true;
    const h = hay?.get(k.id) ?? searchText(k);
    for (const t of terms) if (!h.includes(t)) return false;
    return true;
  });
}

/** Filters then sorts; stable (ties keep name order, then id). Returns a new array. */
export function filterAndSort(
  keys: ReadonlyArray<KeyView>,
  q: KeyQuery,
  sort: Sort,
  hay?: ReadonlyMap<string, string>,
): KeyView[] {
  return sortKeys(filterKeys(keys, q, hay), sort);
}

/** Counts for the filter chips. */
export function statusCounts(keys: ReadonlyArray<KeyView>): Record<KeyStatus, number> {
  const c: Record<KeyStatus, number> = { active: 0, inactive: 0, revoked: 0 };
  for (const k of keys) c[k.status] += 1;
  return c;
}

/** Ids in `selected` that are still revocable (active or inactive) in `keys`. */
export function revocable(keys: ReadonlyArray<KeyView>, selected: ReadonlySet<string>): string[] {
  if (selected.size === 0) return [];
  return keys.filter((k) => selected.has(k.id) && k.status !== "revoked").map((k) => k.id);
}

/** How long the old key keeps working when a key is rolled, as Stripe's "Roll API key" offers
 * it. `now` replaces the secret in place; the others re-issue, and the first sync after the
 * deadline revokes the old key. `value` is what the core's `old_key_expires` takes. */
export const OLD_KEY_LIFETIMES = [
  { value: "now", label: "Now", ms: 0 },
  { value: "1h", label: "in 1 hour", ms: 3_600_000 },
  { value: "24h", label: "in 24 hours", ms: 86_400_000 },
  { value: "3d", label: "in 3 days", ms: 3 * 86_400_000 },
  { value: "7d", label: "in 7 days", ms: 7 * 86_400_000 },
] as const;

export type OldKeyLifetime = (typeof OLD_KEY_LIFETIMES)[number]["value"];

/** When the old key stops working if the roll happens at `now` (ms), as an ISO time; null for
 * `now` (at once). */
export function oldKeyDeadline(lifetime: OldKeyLifetime, now: number): string | null {
  const l = OLD_KEY_LIFETIMES.find((x) => x.value === lifetime);
  return l && l.ms > 0 ? new Date(now + l.ms).toISOString() : null;
}

/** The rows of the keys table as the table reads them: how many, and the row at an index if
 * its window has arrived (the table draws a placeholder row until then). */
export interface RowSource {
  readonly length: number;
  at(i: number): KeyView | undefined;
}


/** The table's search, filters and sort as the core's `keys_window` takes them. */
export function windowQuery(q: KeyQuery, sort: Sort): KeyWindowQuery {
  const s = q.search.trim();
  return {
    search: s === "" ? null : s,
    status: q.status === "" ? null : q.status,
    key_type: q.keyType === "" ? null : q.keyType,
    org_code: q.org === "" ? null : q.org,
    user_id: q.user === "" ? null : q.user,
    api_id: q.api === "" ? null : q.api,
    flag: q.flag === "" ? null : q.flag,
    sort: sort.key,
    dir: sort.dir,
  };
}

/** The rows to ask for when rows `start..end` are on screen: whole pages of `page` rows
 * around them (the overscan), so that scrolling a little asks for nothing. */
export function pageSpan(start: number, end: number, page: number): { offset: number; limit: number } {
  const first = Math.max(0, Math.floor(start / page) * page - page);
  const last = Math.ceil(Math.max(end, start + 1) / page) * page + page;
  return { offset: first, limit: last - first };
}

/** The rows to ask for first when a new query (or a refresh) replaces the rows: the rows on
 * screen and `margin` each side, nothing more, so that a keystroke's answer is as small at
 * 100,000 keys as the screen (at 150 keys a search answers a handful of rows; a 200-row first
 * page at scale cost 1.7× the keystroke). The pages around it follow when the window is idle. */
export function screenSpan(start: number, end: number, margin: number): { offset: number; limit: number } {
  const offset = Math.max(0, start - margin);
  return { offset, limit: Math.max(end, start + 1) + margin - offset };
}
