// The command palette's matcher (Ctrl+K): fuzzy, ranked, capped. Pure, so that vitest covers
// the ranking; the palette component only builds the items and runs the chosen one.
//
// A query is split into terms; every term must match an item (in its title or its detail) as
// a subsequence. A term scores higher when it is a substring, at the start of the title or of a
// word, in consecutive letters, and in the title rather than the detail. The best `limit` items
// are kept with a bounded insertion, so 10,000 keys cost one cheap scan, not a sort.

export type PaletteKind = "screen" | "action" | "key" | "org" | "user";

export type PaletteItem = {
  /** Unique within one palette listing. */
  id: string;
  kind: PaletteKind;
  title: string;
  /** Second line: a key's prefix and owner, an org's code, an action's explanation. */
  detail?: string;
  /** A shortcut shown at the right ("N", "?"). */
  shortcut?: string;
};

/** A searchable item: its lower-cased title and detail, built once (not per keystroke). */
export type Searchable<T extends PaletteItem = PaletteItem> = { item: T; title: string; detail: string };

export type Ranked<T extends PaletteItem = PaletteItem> = { item: T; score: number };

export function searchable<T extends PaletteItem>(item: T): Searchable<T> {
  return { item, title: item.title.toLowerCase(), detail: (item.detail ?? "").toLowerCase() };
}

/** Query terms: trimmed, lower-cased, split on white space. */
export function paletteTerms(query: string): string[] {
  const q = query.trim().toLowerCase();
  return q ? q.split(/\s+/) : [];
}

function isBoundary(s: string, i: number): boolean {
  if (i <= 0) return true;
  const c = s.charCodeAt(i - 1);
  // Not a letter or a digit: space, "_", "-", ":", "/", "(", "." ...
  return !((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c > 127);
}

/** How well one lower-cased term matches one lower-cased text: -1 when it does not (the
 * letters are not all there in order), else higher is better. */
export function scoreTerm(term: string, text: string): number {
  if (term.length === 0) return 0;
  if (term.length > text.length) return -1;
  // Cheap rejection with native indexOf: the letters, in order.
  let p = -1;
  for (let k = 0; k < term.length; k++) {
    p = text.indexOf(term[k] as string, p + 1);
    if (p < 0) return -1;
  }
  const at = text.indexOf(term);
  if (at >= 0) {
    // A substring: better at the start, then at a word start; a shorter text is a closer match.
    let s = 100 + term.length * 12;
    if (at === 0) s += 60;
    else if (isBoundary(text, at)) s += 35;
    else {
      // A later occurrence may start a word ("sync" in "async, sync now").
      let next = text.indexOf(term, at + 1);
      while (next >= 0 && !isBoundary(text, next)) next = text.indexOf(term, next + 1);
      if (next >= 0) s += 30;
    }
    if (term.length === text.length) s += 40;
    return s - Math.min(text.length, 60) * 0.2;
  }
  // A subsequence: each letter taken at the next word start if one comes before the next
  // plain occurrence would leave too big a gap; consecutive letters and word starts score.
  let s = 0;
  let pos = -1;
  for (let k = 0; k < term.length; k++) {
    const ch = term[k] as string;
    let i = text.indexOf(ch, pos + 1);
    if (i < 0) return -1;
    if (i !== pos + 1 && !isBoundary(text, i)) {
      // Prefer an occurrence that starts a word, if the rest of the term still fits after it.
      let j = text.indexOf(ch, i + 1);
      while (j >= 0 && !isBoundary(text, j)) j = text.indexOf(ch, j + 1);
      if (j >= 0 && fits(term, k + 1, text, j + 1)) i = j;
    }
    s += 8;
    if (i === pos + 1 && k > 0) s += 14;
    if (isBoundary(text, i)) s += 18;
    if (k > 0) s -= Math.min(i - pos - 1, 12);
    pos = i;
  }
  return s - Math.min(text.length, 60) * 0.2;
}

function fits(term: string, from: number, text: string, at: number): boolean {
  let p = at - 1;
  for (let k = from; k < term.length; k++) {
    p = text.indexOf(term[k] as string, p + 1);
    if (p < 0) return false;
  }
  return true;
}

/** A detail match counts for less than a title match. */
const DETAIL_WEIGHT = 0.7;

/** One item's score for the terms: -1 unless every term matches its title or its detail. */
export function scoreItem(s: Searchable, terms: ReadonlyArray<string>): number {
  let total = 0;
  for (const t of terms) {
    const a = scoreTerm(t, s.title);
    const b = s.detail ? scoreTerm(t, s.detail) : -1;
    if (a < 0 && b < 0) return -1;
    total += Math.max(a, b < 0 ? -1 : b * DETAIL_WEIGHT);
  }
  return total;
}

/** When scores tie: screens and actions before keys, orgs and users. */
const KIND_ORDER: Record<PaletteKind, number> = { screen: 0, action: 1, org: 2, user: 3, key: 4 };

function better(a: Ranked, b: Ranked): boolean {
  if (a.score !== b.score) return a.score > b.score;
  const ka = KIND_ORDER[a.item.kind];
  const kb = KIND_ORDER[b.item.kind];
  if (ka !== kb) return ka < kb;
  return a.item.title.length < b.item.title.length;
}

/** The best `limit` items for the query, best first. An empty query keeps the given order
 * (the first `limit`). Each source is scanned once; nothing is allocated for a non-match. */
export function rankItems<T extends PaletteItem>(
  sources: ReadonlyArray<ReadonlyArray<Searchable<T>>>,
  query: string,
  limit = 50,
): Ranked<T>[] {
  const terms = paletteTerms(query);
  const out: Ranked<T>[] = [];
  if (limit <= 0) return out;
  if (terms.length === 0) {
    for (const src of sources)
      for (const s of src) {
        if (out.length >= limit) return out;
        out.push({ item: s.item, score: 0 });
      }
    return out;
  }
  for (const src of sources) {
    for (const s of src) {
      const score = scoreItem(s, terms);
      if (score < 0) continue;
      const r = { item: s.item, score };
      if (out.length === limit && !better(r, out[limit - 1] as Ranked<T>)) continue;
      // Bounded insertion: out stays sorted, best first.
      let i = out.length < limit ? out.length : limit - 1;
      if (out.length < limit) out.push(r);
      else out[i] = r;
      while (i > 0 && better(r, out[i - 1] as Ranked<T>)) {
        out[i] = out[i - 1] as Ranked<T>;
        i--;
      }
      out[i] = r;
    }
  }
  return out;
}

/** A key as a palette item: its name, then prefix…suffix, owner and API (what admins search
 * by). `owner` is the display name the app resolves (org name, user, or code). */
export function keyItem(
  k: { id: string; name: string; key_prefix: string; key_suffix: string | null; api_name: string | null; status: string },
  owner: string,
): PaletteItem & { keyId: string } {
  const prefix = k.key_suffix ? `${k.key_prefix}…${k.key_suffix}` : k.key_prefix;
  const parts = [prefix, owner, k.api_name ?? "", k.status === "active" ? "" : k.status].filter(Boolean);
  return { id: `key:${k.id}`, kind: "key", title: k.name || k.id, detail: parts.join(" · "), keyId: k.id };
}

function byRank(a: Ranked, b: Ranked): number {
  return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/** The palette's own items (screens, actions, orgs, users) ranked together with the keys the
 * store found for the query (`keys_window`: the one search rule, in SQL, a page of them; the
 * palette never holds the whole list). A key scores by the same matcher over its title and
 * detail, or least of all when the store matched a field the palette does not show (its id, its
 * API id); ties keep the store's order. `fresh`: the keys are the answer to this very query;
 * else (the answer to the new query is on its way) only the keys that still match it stay. */
export function rankWithKeys<T extends PaletteItem>(
  sources: ReadonlyArray<ReadonlyArray<Searchable<T>>>,
  keys: ReadonlyArray<Searchable<T>>,
  query: string,
  limit = 50,
  fresh = true,
): Ranked<T>[] {
  const ranked = rankItems<T>(sources, query, limit);
  const terms = paletteTerms(query);
  if (terms.length === 0 || keys.length === 0 || limit <= 0) return ranked;
  const all: Ranked<T>[] = ranked.slice();
  for (const s of keys) {
    const score = scoreItem(s, terms);
    if (score < 0 && !fresh) continue;
    all.push({ item: s.item, score: Math.max(0, score) });
  }
  // Stable: equal ranks keep their order (the sources', then the store's).
  all.sort(byRank);
  return all.slice(0, limit);
}
