// The open session's keys and the table's index over them, kept in step: a change of k keys
// (a sync's delta, an action's answer) re-indexes k keys, never the whole list.
import * as backend from "../backend/commands";
import type { KeyView } from "../backend/commands";
import { reuseUnchanged, type KeyQuery, type Sort } from "../logic/keys";
import { KeyIndex } from "../logic/keyindex";
import { toCoreError } from "../logic/errors";
import { sync } from "./sync.svelte";
import { report } from "./report";

class Keys {
  /** Every key (the table filters in memory). Reassigned, never mutated, on every change:
   * screens that depend on "the keys changed" read it. */
  list = $state.raw<KeyView[]>([]);
  loaded = $state(false);
  loading = $state(false);
  /** Search, filters and sorts (logic/keyindex.ts). Not reactive itself: it changes only
   * together with `list`, so `query` and `all` read `list` to be tracked with it. */
  readonly #index = new KeyIndex();
  /** The store's change cursor the list reflects: a sync's delta is what changed after it. */
  #rev = 0;
  #deltaRunning: Promise<void> | null = null;
  #deltaAgain = false;

  /** The rows for a query and sort: one walk of the index (a `$derived` that calls this
   * re-runs when the keys change). */
  query(q: KeyQuery, sort: Sort): KeyView[] {
    void this.list;
    return this.#index.query(q, sort);
  }

  /** Every key, in the index's order (the same objects as in `list`). */
  all(): ReadonlyArray<KeyView> {
    void this.list;
    return this.#index.all();
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

  /** A new key list: the index takes only what changed (unchanged keys keep their objects,
   * see `reuseUnchanged`), or starts over when keys left the list. */
  #set(next: KeyView[]): void {
    const prev = this.list;
    const nextIds = new Set<string>();
    for (const k of next) nextIds.add(k.id);
    const removed = prev.some((k) => !nextIds.has(k.id));
    if (removed || prev.length === 0) {
      this.#index.reset(next);
    } else {
      const old = new Map<string, KeyView>();
      for (const k of prev) old.set(k.id, k);
      this.#index.apply(next.filter((k) => old.get(k.id) !== k));
    }
    this.list = next;
  }

  /** Replaces (or adds) keys after an action, without reloading 10,000 rows. */
  patch(ks: ReadonlyArray<KeyView>): void {
    if (ks.length === 0) return;
    const byId = new Map<string, KeyView>();
    for (const k of ks) byId.set(k.id, k);
    const next = this.list.map((x) => byId.get(x.id) ?? x);
    const known = new Set(this.list.map((x) => x.id));
    const added = ks.filter((k) => !known.has(k.id));
    this.#index.apply(ks);
    this.list = added.length > 0 ? [...added, ...next] : next;
  }

  patchOne(k: KeyView): void {
    this.patch([k]);
  }

  find(id: string): KeyView | undefined {
    return this.list.find((k) => k.id === id);
  }
}

export const keys = new Keys();
