// Client-side filtering and sorting of the key list. The whole list (10,000 keys) is held in
// memory; every keystroke re-filters synchronously, which takes a few ms at that size.
import type { KeyView } from "../bindings/KeyView";
import type { KeyStatus } from "../bindings/KeyStatus";
import type { KeyType } from "../bindings/KeyType";

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

/** Filters then sorts; stable (ties keep name order, then id). Returns a new array. */
export function filterAndSort(
  keys: ReadonlyArray<KeyView>,
  q: KeyQuery,
  sort: Sort,
  hay?: ReadonlyMap<string, string>,
): KeyView[] {
  const out = keys.filter((k) => matches(k, q, hay?.get(k.id)));
  const sign = sort.dir === "asc" ? 1 : -1;
  out.sort((a, b) => {
    const c = compareKeys(a, b, sort.key) * sign;
    if (c !== 0) return c;
    const n = cmp(a.name, b.name);
    return n !== 0 ? n : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return out;
}

/** Counts for the filter chips. */
export function statusCounts(keys: ReadonlyArray<KeyView>): Record<KeyStatus, number> {
  const c: Record<KeyStatus, number> = { active: 0, inactive: 0, revoked: 0 };
  for (const k of keys) c[k.status] += 1;
  return c;
}

/** Ids in `selected` that are still revocable (active or inactive) in `keys`. */
export function revocable(keys: ReadonlyArray<KeyView>, selected: ReadonlySet<string>): string[] {
  return keys.filter((k) => selected.has(k.id) && k.status !== "revoked").map((k) => k.id);
}
