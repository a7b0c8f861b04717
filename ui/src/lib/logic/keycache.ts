// The keys that screens asked for by id (the audit log's, the handovers', the mutes', a key's
// page), fetched from the core in batches (`keys_by_ids`) and kept in a small map, so that no
// screen needs the whole list to name a key. Pure (the fetch is given), so vitest covers it.

/** What the cache needs of a key. */
export type HasId = { id: string };

/** At most this many ids per request (the core's cap). */
export const BATCH = 1000;
/** At most this many keys are kept; the oldest go first. */
export const CAP = 4000;

export class KeyCache<K extends HasId = HasId> {
  #map = new Map<string, K>();
  /** Ids the store did not hold when asked: not asked again until the keys change. */
  #absent = new Set<string>();
  #inflight = new Set<string>();
  /** Bumped by `clear`: answers to requests of a former session are dropped. */
  #session = 0;
  #fetch: (ids: string[]) => Promise<K[]>;
  #publish: (m: ReadonlyMap<string, K>) => void;
  #cap: number;

  /** `fetch` asks the core for ids (at most `BATCH`); `publish` gets a new map after each
   * change (for a reactive reader). */
  constructor(fetch: (ids: string[]) => Promise<K[]>, publish: (m: ReadonlyMap<string, K>) => void, cap = CAP) {
    this.#fetch = fetch;
    this.#publish = publish;
    this.#cap = cap;
  }

  get(id: string): K | undefined {
    return this.#map.get(id);
  }

  get size(): number {
    return this.#map.size;
  }

  /** Keys as an answer has them (newer than the cache). */
  put(ks: ReadonlyArray<K>): void {
    if (ks.length === 0) return;
    for (const k of ks) {
      this.#map.delete(k.id);
      this.#map.set(k.id, k);
      this.#absent.delete(k.id);
    }
    this.#trim();
    this.#publish(new Map(this.#map));
  }

  /** Forgets everything (another session). */
  clear(): void {
    this.#session += 1;
    this.#map = new Map();
    this.#absent.clear();
    this.#inflight.clear();
    this.#publish(new Map());
  }

  /** Fetches the ids not known, not known absent and not already asked for. */
  async need(ids: Iterable<string>): Promise<void> {
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      if (!id || seen.has(id)) continue;
      seen.add(id);
      if (!this.#map.has(id) && !this.#absent.has(id) && !this.#inflight.has(id)) missing.push(id);
    }
    if (missing.length === 0) return;
    await this.#load(missing, false);
  }

  /** The keys changed: the known ones are asked for again (what is shown stays until their
   * answer comes), and absent ones may be asked again. */
  async refresh(): Promise<void> {
    this.#absent.clear();
    const ids = [...this.#map.keys()];
    if (ids.length === 0) return;
    await this.#load(ids, true);
  }

  async #load(ids: string[], replace: boolean): Promise<void> {
    const session = this.#session;
    for (let i = 0; i < ids.length; i += BATCH) {
      const chunk = ids.slice(i, i + BATCH);
      for (const id of chunk) this.#inflight.add(id);
      try {
        const got = await this.#fetch(chunk);
        if (session !== this.#session) return;
        const found = new Set(got.map((k) => k.id));
        for (const id of chunk)
          if (!found.has(id)) {
            this.#absent.add(id);
            if (replace) this.#map.delete(id);
          }
        for (const k of got) {
          if (!replace) this.#map.delete(k.id);
          this.#map.set(k.id, k);
        }
        this.#trim();
        this.#publish(new Map(this.#map));
      } catch {
        /* no store yet, or offline: the ids are asked again next time */
      } finally {
        if (session === this.#session) for (const id of chunk) this.#inflight.delete(id);
      }
    }
  }

  #trim(): void {
    while (this.#map.size > this.#cap) {
      const oldest = this.#map.keys().next().value;
      if (oldest === undefined) break;
      this.#map.delete(oldest);
    }
  }
}
