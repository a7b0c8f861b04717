// Latest wins: at most one request at a time, and only the answer to the newest ask is
// delivered. Asks that come while one runs wait, and only the newest of them runs next, so a
// burst of keystrokes costs two requests, not one per keystroke, and an old answer never
// replaces a newer one on screen.

export class Latest<Q, R> {
  #run: (q: Q) => Promise<R>;
  #deliver: (q: Q, r: R) => void;
  #fail: ((q: Q, e: unknown) => void) | undefined;
  #latest: { q: Q } | null = null;
  #seq = 0;
  #running = false;
  /** Requests started (tests count them). */
  started = 0;

  constructor(run: (q: Q) => Promise<R>, deliver: (q: Q, r: R) => void, fail?: (q: Q, e: unknown) => void) {
    this.#run = run;
    this.#deliver = deliver;
    this.#fail = fail;
  }

  ask(q: Q): void {
    this.#latest = { q };
    this.#seq += 1;
    if (!this.#running) void this.#loop();
  }

  /** Drops the pending ask and any answer in flight (the asker went away). */
  cancel(): void {
    this.#latest = null;
    this.#seq += 1;
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      for (;;) {
        const seq = this.#seq;
        const latest = this.#latest;
        if (!latest) return;
        this.started += 1;
        let ok = true;
        let r: R | undefined;
        let err: unknown;
        try {
          r = await this.#run(latest.q);
        } catch (e) {
          ok = false;
          err = e;
        }
        if (seq !== this.#seq) continue; // a newer ask came meanwhile: it runs now
        this.#latest = null;
        if (ok) this.#deliver(latest.q, r as R);
        else this.#fail?.(latest.q, err);
        return;
      }
    } finally {
      this.#running = false;
    }
  }
}
