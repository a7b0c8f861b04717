// The open session's keys, and the keys table's window. Nothing here holds the whole list:
// the table asks the core for the rows on screen (`keys_window`: search, filters and sort in
// SQLite), a sync's delta only refreshes those rows and the counts (`TableWindow`), and the
// screens that name keys (audit, handovers, mutes, a key's page) ask for those keys alone
// (`keys_by_ids`) and keep them in a small cache (`known`).
import * as backend from "../backend/commands";
import type { KeyCounts, KeyView, KeyWindow, KeyWindowQuery } from "../backend/commands";
import { emptyQuery, pageSpan, screenSpan, windowQuery, type KeyQuery, type RowSource, type Sort } from "../logic/keys";
import { toCoreError } from "../logic/errors";
import { BATCH, KeyCache } from "../logic/keycache";
import { report } from "./report";

/** Every key, in the table's default order: the query of "how many keys, which cursor". */
const EVERY_KEY: KeyWindowQuery = windowQuery(emptyQuery(), { key: "last_verified", dir: "desc" });

const NO_COUNTS: KeyCounts = { all: 0, active: 0, inactive: 0, revoked: 0 };

/** A promise and the function that resolves it. */
function settled(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const sameCounts = (a: KeyCounts, b: KeyCounts): boolean =>
  a.all === b.all && a.active === b.active && a.inactive === b.inactive && a.revoked === b.revoked;

class Keys {
  /** The store's keys per status (gone ones included), from the last window that came. */
  counts = $state<KeyCounts>(NO_COUNTS);
  /** True once the store answered (or a first sync is known to have nothing). */
  loaded = $state(false);
  /** Bumped by every change of the store's keys this session saw (a delta, an action): the
   * table's window asks for its rows again, and screens that show keys reload them. */
  revision = $state(0);
  /** The keys screens asked for by id (a few hundred at most), by id. Replaced, never mutated. */
  byId = $state.raw<ReadonlyMap<string, KeyView>>(new Map());
  /** The store's change cursor the counts reflect: a sync's delta is what changed after it. */
  #rev = 0;
  #deltaRunning: Promise<void> | null = null;
  #deltaAgain = false;
  #cache = new KeyCache((ids) => backend.keysByIds(ids), (m) => (this.byId = m));
  #painted = settled();

  /** Resolves once the keys table of this session painted its first rows, or after `ms` when
   * it does not (another screen is open): what can wait for the first paint waits for this. */
  afterFirstTable(ms: number): Promise<void> {
    return Promise.race([this.#painted.promise, new Promise<void>((r) => setTimeout(r, ms))]);
  }

  /** The table's first rows of this session arrived: resolved on the frame after they paint. */
  notePainted(): void {
    const done = this.#painted.resolve;
    requestAnimationFrame(() => requestAnimationFrame(() => done()));
  }

  /** Forgets the keys (another session opens). */
  reset(): void {
    this.#painted = settled();
    this.#primed = null;
    this.counts = NO_COUNTS;
    this.#rev = 0;
    this.loaded = false;
    this.#cache.clear();
    this.revision += 1;
  }

  /** A first look at the store: its counts, its change cursor and the rows of the table's
   * first screen in its default order (a window of `FIRST_SCREEN` rows, not the list), kept
   * for the table's first request ([`TableWindow`]), so that the window paints once, with its
   * rows. False when there is no local copy yet. */
  async start(): Promise<boolean> {
    try {
      const w = await backend.keysWindow(EVERY_KEY, 0, FIRST_SCREEN);
      performance.mark("kw:counts");
      this.#primed = { key: JSON.stringify(EVERY_KEY), window: w, at: performance.now() };
      this.noteWindow(w.counts);
      this.#rev = Math.max(this.#rev, w.rev);
      this.loaded = true;
      return w.counts.all > 0;
    } catch (e) {
      // No local copy yet is not an error: the first sync fills it.
      if (toCoreError(e).code !== "offline") report(e, "Could not load keys");
      return false;
    }
  }

  /** The first screen [`start`] read, until the table takes it (or it is over a second old). */
  #primed: { key: string; window: KeyWindow; at: number } | null = null;

  /** The first screen of `key` (at least the `limit` rows from `offset`) if [`start`] just read it:
   * once. */
  takePrimed(key: string, offset: number, limit: number): KeyWindow | null {
    const p = this.#primed;
    this.#primed = null;
    if (!p || p.key !== key || offset !== 0 || limit > FIRST_SCREEN || performance.now() - p.at > 1000) return null;
    return p.window;
  }

  /** A window arrived (the table's, the palette's): its counts are the store's. */
  noteWindow(counts: KeyCounts): void {
    if (!sameCounts(counts, this.counts)) this.counts = counts;
  }

  /** A sync's progress reached store change `rev`: refresh what is shown, if behind. */
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

  /** The store changed (or may have): the counts and cursor again (one window of no rows);
   * when they moved, the table's rows and the keys known by id refresh. */
  async applyDelta(): Promise<void> {
    try {
      const w = await backend.keysWindow(EVERY_KEY, 0, 0);
      const moved = w.rev > this.#rev;
      this.noteWindow(w.counts);
      this.#rev = Math.max(this.#rev, w.rev);
      if (w.counts.all > 0) this.loaded = true;
      if (moved) this.#changed();
    } catch {
      /* no store yet: the first listing page creates it */
    }
  }

  /** After a sync: the counts and the rows on screen again. */
  async catchUp(): Promise<void> {
    await this.applyDelta();
  }

  /** An action changed keys (a create, a rotation, a revoke): the window and the counts
   * refresh; no list is patched. */
  changed(): void {
    this.#changed();
    void this.applyDelta();
  }

  /** A key as an action's answer has it (fresher than the cache): known by id at once. */
  patchOne(k: KeyView): void {
    this.#cache.put([k]);
    this.changed();
  }

  #changed(): void {
    this.#primed = null;
    this.revision += 1;
    this.#cache.refresh();
  }

  /** A key asked for by id, if it came (reactive: reads `byId`). */
  known(id: string): KeyView | undefined {
    return this.byId.get(id);
  }

  /** Asks the core for the keys `ids` not known yet (in batches; ids the store does not hold
   * are not asked again until the keys change). Call it from an effect. */
  need(ids: Iterable<string>): Promise<void> {
    return this.#cache.need(ids);
  }

  /** The keys `ids` from the store, by id (in batches of `BATCH`; ids it does not hold are
   * left out). Not kept: a bulk revoke's selection may be large. */
  async fetch(ids: ReadonlyArray<string>): Promise<Map<string, KeyView>> {
    const out = new Map<string, KeyView>();
    for (let i = 0; i < ids.length; i += BATCH) {
      for (const k of await backend.keysByIds(ids.slice(i, i + BATCH))) out.set(k.id, k);
    }
    return out;
  }
}

/** Rows per page of a window request; a request spans the pages on screen plus one each side. */
const PAGE = 100;
/** Rows each side of the screen in a new query's first answer. */
const SCREEN_MARGIN = 8;
/** Quiet time after a new query's first answer before the pages around it are asked for (a
 * keystroke that comes meanwhile cancels it, and never waits behind it). */
const FILL_AFTER_MS = 250;
/** The table's first range before it measured itself, as [`TableWindow`] starts. */
const FIRST_RANGE = { start: 0, end: 40 };
/** The rows of a new query's first answer for that range: what start-up reads ahead. */
const FIRST_SCREEN = screenSpan(FIRST_RANGE.start, FIRST_RANGE.end, SCREEN_MARGIN).limit;

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
  #range = { ...FIRST_RANGE };
  #busy = false;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #fill: ReturnType<typeof setTimeout> | null = null;

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
    if (this.#fill) {
      clearTimeout(this.#fill);
      this.#fill = null;
    }
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

  #scheduleFill(): void {
    if (this.#fill) clearTimeout(this.#fill);
    this.#fill = setTimeout(() => {
      this.#fill = null;
      if (!this.#busy) this.#request(false);
    }, FILL_AFTER_MS);
  }

  async #fetch(replace: boolean): Promise<void> {
    if (!this.#q || !this.#sort) return;
    const key = this.#key;
    const { offset, limit } = replace ? screenSpan(this.#range.start, this.#range.end, SCREEN_MARGIN) : pageSpan(this.#range.start, this.#range.end, PAGE);
    try {
      // Start-up read this window ahead (keys.start): it renders in the same frame as the table.
      const w = (replace && keys.takePrimed(key, offset, limit)) || (await backend.keysWindow(windowQuery(this.#q, this.#sort), offset, limit));
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
      keys.noteWindow(w.counts);
      const rows = this.#rows;
      this.rows = { length: w.total, at: (i) => rows.get(i) };
      if (!this.ready && w.rows.length > 0) {
        performance.mark("kw:rows");
        keys.notePainted();
      }
      this.ready = true;
      // The screen's rows only: the pages around it when the window is quiet, so that a scroll
      // finds them.
      if (replace && w.rows.length >= limit) this.#scheduleFill();
    } catch {
      /* no store yet: the first listing page creates it, and its delta asks again */
    }
  }
}

export const keys = new Keys();
