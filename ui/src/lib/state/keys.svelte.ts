// The open session's keys, and the keys table's window. The table never holds the whole list:
// it asks the core for the rows on screen (`keys_window`: search, filters and sort in SQLite),
// and a sync's delta only refreshes those rows and the counts (`TableWindow`).
import * as backend from "../backend/commands";
import type { KeyCounts, KeyView } from "../backend/commands";
import { pageSpan, reuseUnchanged, windowQuery, type KeyQuery, type RowSource, type Sort } from "../logic/keys";
import { toCoreError } from "../logic/errors";
import { sync } from "./sync.svelte";
import { report } from "./report";

class Keys {
  /** Every key (the table filters in memory). Reassigned, never mutated, on every change:
   * screens that depend on "the keys changed" read it. */
  list = $state.raw<KeyView[]>([]);
  loaded = $state(false);
  loading = $state(false);
  /** Bumped by every change of the store's keys this session saw (a delta, an action): the
   * table's window asks for its rows again. */
  revision = $state(0);
  /** The store's change cursor the list reflects: a sync's delta is what changed after it. */
  #rev = 0;
  #deltaRunning: Promise<void> | null = null;
  #deltaAgain = false;

  /** Every key (the same objects as in `list`). */
  all(): ReadonlyArray<KeyView> {
    return this.list;
  }

  /** Forgets the keys (another session opens). */
  reset(): void {
    this.#set([]);
    this.#rev = 0;
    this.loaded = false;
  }

  /** Loads every key. `offline` answers from the cache alone. False when there is no cache. */
  async load(offline = true): Promise<boolean> {
    this.loading = true;
    try {
      // The cursor first: a change made between the two calls comes again with the next delta.
      const cursor = await backend.keysChangedSince(Number.MAX_SAFE_INTEGER).catch(() => null);
      const res = await backend.keysList(
        { org_code: null, user_id: null, status: null, key_type: null, api_id: null, search: null },
        offline,
      );
      // A sync that changed nothing leaves the list (and everything derived from it) alone.
      const { keys, changed } = reuseUnchanged(this.list, res.keys);
      if (changed) this.#set(keys as KeyView[]);
      if (cursor) this.#rev = cursor.rev;
      sync.noteCache(res.synced_at, res.warning);
      this.loaded = true;
      return true;
    } catch (e) {
      // No local copy yet is not an error: the first sync fills it.
      if (toCoreError(e).code !== "offline") report(e, "Could not load keys");
      return false;
    } finally {
      this.loading = false;
    }
  }

  /** A sync's progress reached store change `rev`: fetch what changed, if the list is behind. */
  follow(rev: number): void {
    if (rev > this.#rev) this.#scheduleDelta();
  }

  /** At most one delta request in flight, and at most every 300 ms during a sync. */
  #scheduleDelta(): void {
    if (this.#deltaRunning) {
      this.#deltaAgain = true;
      return;
    }
    this.#deltaRunning = (async () => {
      do {
        this.#deltaAgain = false;
        await this.applyDelta();
        await new Promise((r) => setTimeout(r, 300));
      } while (this.#deltaAgain);
    })().finally(() => {
      this.#deltaRunning = null;
    });
  }

  /** Applies the keys changed since the list's cursor (k rows, not the whole list). */
  async applyDelta(): Promise<void> {
    try {
      const d = await backend.keysChangedSince(this.#rev);
      if (d.keys.length > 0) {
        if (this.list.length === 0) this.#set(d.keys);
        else this.patch(d.keys);
      }
      this.#rev = Math.max(this.#rev, d.rev);
      if (!this.loaded && d.keys.length > 0) this.loaded = true;
    } catch {
      /* no store yet: the first listing page creates it */
    }
  }

  /** After a sync: the delta when there is a list, else a first load from the cache. */
  async catchUp(): Promise<void> {
    if (this.loaded && this.list.length > 0) await this.applyDelta();
    else await this.load(true);
  }

  /** A new key list (unchanged keys keep their objects, see `reuseUnchanged`). */
  #set(next: KeyView[]): void {
    this.#byId = null;
    this.list = next;
    this.revision += 1;
  }

  #byId: Map<string, KeyView> | null = null;

  /** Replaces (or adds) keys after an action, without reloading 10,000 rows. */
  patch(ks: ReadonlyArray<KeyView>): void {
    if (ks.length === 0) return;
    const byId = new Map<string, KeyView>();
    for (const k of ks) byId.set(k.id, k);
    const next = this.list.map((x) => byId.get(x.id) ?? x);
    const known = new Set(this.list.map((x) => x.id));
    const added = ks.filter((k) => !known.has(k.id));
    this.#byId = null;
    this.list = added.length > 0 ? [...added, ...next] : next;
    this.revision += 1;
  }

  patchOne(k: KeyView): void {
    this.patch([k]);
  }

  find(id: string): KeyView | undefined {
    if (!this.#byId) {
      this.#byId = new Map();
      for (const k of this.list) this.#byId.set(k.id, k);
    }
    return this.#byId.get(id);
  }
}

/** Rows per page of a window request; a request spans the pages on screen plus one each side. */
const PAGE = 100;

/** The keys table's window over the store: the rows on screen (plus overscan) of a query, its
 * total and the counts. A new query keeps showing the previous rows until its first page
 * arrives (no flicker); a scroll asks for the pages it reaches, one request at a time. */
export class TableWindow {
  total = $state(0);
  counts = $state<KeyCounts>({ all: 0, active: 0, inactive: 0, revoked: 0 });
  /** True once a first window arrived. */
  ready = $state(false);
  /** Bumped when the first rows of a new query arrive (the scale tests wait for it). */
  seq = $state(0);
  /** The search of the rows shown (the e2e tests wait for it). */
  served = $state("");
  /** The rows as the table reads them (a new object whenever rows arrive). */
  rows = $state.raw<RowSource>({ length: 0, at: () => undefined });
  #rows = new Map<number, KeyView>();
  #q: KeyQuery | null = null;
  #sort: Sort | null = null;
  #key = "";
  #range = { start: 0, end: 40 };
  #busy = false;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** A new search, filter or sort: its first rows replace the others when they arrive. */
  setQuery(q: KeyQuery, sort: Sort): void {
    const key = JSON.stringify(windowQuery(q, sort));
    if (key === this.#key) return;
    this.#q = { ...q };
    this.#sort = { ...sort };
    this.#key = key;
    // The rows at the table's scroll position (it keeps it; a shorter list clamps it and
    // reports the new range).
    this.#request(true);
  }

  /** Rows `start..end` are on screen: ask for their pages if any row is missing (debounced). */
  setRange(start: number, end: number): void {
    this.#range = { start, end };
    let missing = false;
    for (let i = start; i < Math.min(end, this.total); i++) if (!this.#rows.has(i)) missing = true;
    if (!missing) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#request(false);
    }, 16);
  }

  /** The keys changed (a sync's delta, an action): the rows on screen and the counts again. */
  refresh(): void {
    if (this.#key !== "") this.#request(true);
  }

  /** The index of a key among the rows that arrived, or -1. */
  indexOf(id: string): number {
    for (const [i, k] of this.#rows) if (k.id === id) return i;
    return -1;
  }

  /** The rows that arrived, by id (the bulk revoke lists what it revokes). */
  loaded(): Map<string, KeyView> {
    const m = new Map<string, KeyView>();
    for (const k of this.#rows.values()) m.set(k.id, k);
    return m;
  }

  #request(replace: boolean): void {
    if (this.#busy) {
      this.#again = true;
      this.#replaceNext ||= replace;
      return;
    }
    this.#busy = true;
    const rep = replace || this.#replaceNext;
    this.#replaceNext = false;
    void this.#fetch(rep).finally(() => {
      this.#busy = false;
      // A new query (or a refresh) that came meanwhile replaces the rows when it arrives.
      const again = this.#again;
      const repNext = this.#replaceNext;
      this.#again = false;
      this.#replaceNext = false;
      if (again) this.#request(repNext);
    });
  }
  /** The request waiting behind the one in flight replaces the rows (a new query or a refresh). */
  #replaceNext = false;

  async #fetch(replace: boolean): Promise<void> {
    if (!this.#q || !this.#sort) return;
    const key = this.#key;
    const { offset, limit } = pageSpan(this.#range.start, this.#range.end, PAGE);
    try {
      const w = await backend.keysWindow(windowQuery(this.#q, this.#sort), offset, limit);
      if (key !== this.#key) {
        // The query changed while this one ran: ask again for the new one.
        this.#again = true;
        this.#replaceNext = true;
        return;
      }
      if (replace) {
        this.#rows = new Map();
        this.seq += 1;
        this.served = this.#q.search;
      }
      w.rows.forEach((k, j) => this.#rows.set(offset + j, k));
      // Only the pages around the screen are kept: memory does not grow with scrolling.
      if (this.#rows.size > 4 * PAGE)
        for (const i of [...this.#rows.keys()]) if (i < offset || i >= offset + limit) this.#rows.delete(i);
      this.total = w.total;
      this.counts = w.counts;
      const rows = this.#rows;
      this.rows = { length: w.total, at: (i) => rows.get(i) };
      this.ready = true;
    } catch {
      /* no store yet: the first listing page creates it, and its delta asks again */
    }
  }
}

export const keys = new Keys();
