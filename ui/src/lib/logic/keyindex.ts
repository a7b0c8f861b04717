// The keys table's index: built once per key list, then every keystroke, filter change and
// sort change is one linear walk with no allocation per key, and a sync's k changed rows are
// applied without re-sorting or re-indexing the other N - k (unless a sort key changed).
//
// - `hay[i]`: key i's lower-cased search haystack, built once.
// - `orders["key:dir"]`: key indices in that order, built the first time that sort is used and
//   kept until a change touches that sort's field.
// - A search that extends the previous one ("bil" -> "bill") only re-tests the previous hits.
import type { KeyView } from "../bindings/KeyView";
import { compareKeys, searchTerms, searchText, type KeyQuery, type Sort, type SortKey } from "./keys";

/** The fields each sort reads: a change to any of them invalidates that sort's order. */
const SORT_FIELDS: Record<SortKey, ReadonlyArray<keyof KeyView>> = {
  name: ["name"],
  owner: ["owner_name", "name"],
  api: ["api_name", "name"],
  status: ["status", "name"],
  created: ["created_on", "name"],
  last_verified: ["last_verified_on", "name"],
  verifications: ["verification_count", "name"],
  activity: ["spark_7d", "name"],
};

const STATUS_CODE: Record<KeyView["status"], number> = { active: 0, inactive: 1, revoked: 2 };
const KIND_CODE: Record<KeyView["type"], number> = { organization: 0, user: 1, environment: 2 };

const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

function sameField(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function passesFacets(k: KeyView, q: KeyQuery): boolean {
  if (q.status && k.status !== q.status) return false;
  if (q.keyType && k.type !== q.keyType) return false;
  if (q.org && k.org_code !== q.org) return false;
  if (q.user && k.user_id !== q.user) return false;
  if (q.api && !k.api_ids.includes(q.api)) return false;
  if (q.flag === "stale" && !k.stale) return false;
  if (q.flag === "rotation_due" && !k.rotation_due) return false;
  return true;
}

/** What an `apply` did: how many rows changed, and whether a sort order had to be dropped. */
export type ApplyResult = { changed: number; added: number; reordered: boolean };

export class KeyIndex {
  private keys: KeyView[] = [];
  private hay: string[] = [];
  private pos = new Map<string, number>();
  /** By "key:dir" (a descending order keeps ties in name order, as `sortKeys` does). */
  private orders = new Map<string, Int32Array>();
  /** The last query's hits (indices, in the last sort's order) for search refinement. */
  private last: { q: KeyQuery; sort: Sort; terms: string[]; hits: Int32Array; version: number } | null = null;
  /** Bumped by every change: a refinement is only valid within one version. */
  private version = 0;
  /** Columns for the facets that a keystroke tests (no object access per key). */
  private status = new Uint8Array(0);
  private kind = new Uint8Array(0);
  private flags = new Uint8Array(0);
  /** Every haystack in one string ("\u0001" between keys) and where each starts: a search is a
   * few `indexOf` scans of it, not one `includes` per key. Rebuilt lazily after changes. */
  private big = "";
  private starts = new Int32Array(1);
  private bigStale = true;
  /** Per key, 1 when it matches the query's search (reused between queries). */
  private mark = new Uint8Array(0);

  constructor(keys: ReadonlyArray<KeyView> = []) {
    this.reset(keys);
  }

  get size(): number {
    return this.keys.length;
  }

  /** Every key, in list order (the same objects that were given). */
  all(): ReadonlyArray<KeyView> {
    return this.keys;
  }

  get(id: string): KeyView | undefined {
    const i = this.pos.get(id);
    return i === undefined ? undefined : this.keys[i];
  }

  /** A new list: index it all (once per list load). */
  reset(keys: ReadonlyArray<KeyView>): void {
    this.keys = keys.slice();
    this.hay = this.keys.map(searchText);
    this.pos = new Map();
    for (let i = 0; i < this.keys.length; i++) this.pos.set((this.keys[i] as KeyView).id, i);
    this.orders.clear();
    this.last = null;
    this.version += 1;
    this.status = new Uint8Array(this.keys.length);
    this.kind = new Uint8Array(this.keys.length);
    this.flags = new Uint8Array(this.keys.length);
    for (let i = 0; i < this.keys.length; i++) this.setColumns(i, this.keys[i] as KeyView);
    this.bigStale = true;
  }

  private setColumns(i: number, k: KeyView): void {
    this.status[i] = STATUS_CODE[k.status];
    this.kind[i] = KIND_CODE[k.type];
    this.flags[i] = (k.stale ? 1 : 0) | (k.rotation_due ? 2 : 0);
  }

  private grow(n: number): void {
    if (this.status.length >= n) return;
    const cap = Math.max(n, this.status.length * 2, 16);
    for (const f of ["status", "kind", "flags"] as const) {
      const a = new Uint8Array(cap);
      a.set(this[f]);
      this[f] = a;
    }
  }

  private ensureBig(): void {
    if (!this.bigStale) return;
    const n = this.keys.length;
    const starts = new Int32Array(n + 1);
    let at = 0;
    for (let i = 0; i < n; i++) {
      starts[i] = at;
      at += (this.hay[i] as string).length + 1;
    }
    starts[n] = at;
    this.big = this.hay.join("\u0001") + "\u0001";
    this.starts = starts;
    this.bigStale = false;
  }

  /** Marks (with 1) the keys whose haystack holds every term; returns 1. */
  private markTerms(terms: ReadonlyArray<string>): number {
    this.ensureBig();
    const n = this.keys.length;
    if (this.mark.length < n) this.mark = new Uint8Array(Math.max(n, this.mark.length * 2));
    const mark = this.mark;
    mark.fill(0, 0, n);
    const big = this.big;
    const starts = this.starts;
    // The first term scans the joined haystacks; the others only re-test its hits.
    const first = terms[0] as string;
    const cand: number[] = [];
    let i = 0;
    let from = 0;
    for (;;) {
      const p = big.indexOf(first, from);
      if (p < 0) break;
      while ((starts[i + 1] as number) <= p) i++;
      cand.push(i);
      i++;
      if (i >= n) break;
      from = starts[i] as number;
    }
    const hay = this.hay;
    outer: for (const c of cand) {
      const h = hay[c] as string;
      for (let t = 1; t < terms.length; t++) if (!h.includes(terms[t] as string)) continue outer;
      mark[c] = 1;
    }
    return 1;
  }

  /** Applies changed or new keys (a sync's delta). Unchanged objects are skipped; an order is
   * dropped only when a changed key's sort field changed, or a key was added. */
  apply(changed: ReadonlyArray<KeyView>): ApplyResult {
    let n = 0;
    let added = 0;
    const dirty = new Set<SortKey>();
    for (const k of changed) {
      const i = this.pos.get(k.id);
      if (i === undefined) {
        const j = this.keys.length;
        this.pos.set(k.id, j);
        this.keys.push(k);
        this.hay.push(searchText(k));
        this.grow(j + 1);
        this.setColumns(j, k);
        added += 1;
        n += 1;
        continue;
      }
      const old = this.keys[i] as KeyView;
      if (old === k) continue;
      for (const [sk, fields] of Object.entries(SORT_FIELDS) as Array<[SortKey, ReadonlyArray<keyof KeyView>]>) {
        if ((this.orders.has(`${sk}:asc`) || this.orders.has(`${sk}:desc`)) && fields.some((f) => !sameField(old[f], k[f]))) dirty.add(sk);
      }
      this.keys[i] = k;
      this.hay[i] = searchText(k);
      this.setColumns(i, k);
      n += 1;
    }
    if (added > 0) this.orders.clear();
    else
      for (const sk of dirty) {
        this.orders.delete(`${sk}:asc`);
        this.orders.delete(`${sk}:desc`);
      }
    if (n > 0) {
      this.version += 1;
      this.last = null;
      this.bigStale = true;
    }
    return { changed: n, added, reordered: added > 0 || dirty.size > 0 };
  }

  /** Key indices in `sort` order (ties by name, then id, whatever the direction). Cached. */
  private order(sort: Sort): Int32Array {
    const id = `${sort.key}:${sort.dir}`;
    const cached = this.orders.get(id);
    if (cached) return cached;
    const ks = this.keys;
    const key = sort.key;
    const sign = sort.dir === "asc" ? 1 : -1;
    const idx = Array.from({ length: ks.length }, (_, i) => i);
    idx.sort((x, y) => {
      const a = ks[x] as KeyView;
      const b = ks[y] as KeyView;
      const c = compareKeys(a, b, key) * sign;
      if (c !== 0) return c;
      const nm = collator.compare(a.name, b.name);
      return nm !== 0 ? nm : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    const out = Int32Array.from(idx);
    this.orders.set(id, out);
    return out;
  }

  /** Builds a sort's order now (e.g. while idle), so that its first use costs nothing. */
  warm(sort: Sort): void {
    this.order(sort);
  }

  /** The rows for a query and sort: one walk of the sort's order over typed columns. A search
   * first marks its hits with a few scans of the joined haystacks; typing on (a refinement of
   * the last search with few hits) re-tests only those. Returns the indexed objects. */
  query(q: KeyQuery, sort: Sort): KeyView[] {
    const terms = searchTerms(q.search);
    const prev = this.last;
    const refine =
      prev !== null &&
      prev.version === this.version &&
      prev.sort.key === sort.key &&
      prev.sort.dir === sort.dir &&
      sameFacets(prev.q, q) &&
      prev.terms.length > 0 &&
      terms.length >= prev.terms.length &&
      prev.terms.every((t, i) => (terms[i] as string).includes(t)) &&
      prev.hits.length * 8 < this.keys.length;
    const ks = this.keys;
    const hay = this.hay;
    const source = refine ? (prev as { hits: Int32Array }).hits : this.order(sort);
    const all = !refine && terms.length > 0 ? this.markTerms(terms) : 0;
    const mark = this.mark;
    const st = q.status === "" ? -1 : STATUS_CODE[q.status];
    const ty = q.keyType === "" ? -1 : KIND_CODE[q.keyType];
    const fl = q.flag === "stale" ? 1 : q.flag === "rotation_due" ? 2 : 0;
    const objFacets = q.org !== "" || q.user !== "" || q.api !== "";
    const status = this.status;
    const kind = this.kind;
    const flags = this.flags;
    const n = source.length;
    const hits = new Int32Array(n);
    let h = 0;
    for (let j = 0; j < n; j++) {
      const i = source[j] as number;
      if (all > 0 && mark[i] !== all) continue;
      if (st >= 0 && status[i] !== st) continue;
      if (ty >= 0 && kind[i] !== ty) continue;
      if (fl !== 0 && ((flags[i] as number) & fl) === 0) continue;
      if (objFacets && !passesFacets(ks[i] as KeyView, q)) continue;
      if (refine) {
        const s = hay[i] as string;
        let ok = true;
        for (const t of terms) {
          if (!s.includes(t)) {
            ok = false;
            break;
          }
        }
        if (!ok) continue;
      }
      hits[h++] = i;
    }
    const found = hits.slice(0, h);
    this.last = { q: { ...q }, sort: { ...sort }, terms, hits: found, version: this.version };
    const rows = new Array<KeyView>(h);
    for (let j = 0; j < h; j++) rows[j] = ks[found[j] as number] as KeyView;
    return rows;
  }
}

function sameFacets(a: KeyQuery, b: KeyQuery): boolean {
  return a.status === b.status && a.keyType === b.keyType && a.org === b.org && a.user === b.user && a.api === b.api && a.flag === b.flag;
}
