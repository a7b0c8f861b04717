// The sync's status line (last sync, running, offline, the last error), its progress, and the
// calls that start and cancel a sync. What a sync changes (the keys, the alerts) is followed by
// the session (session.svelte.ts), which runs it.
import * as backend from "../backend/commands";
import type { Error as CoreError, SyncProgress, SyncState, SyncSummary } from "../backend/commands";
import { OFFLINE_CODES } from "../logic/errors";

class Sync {
  state = $state<SyncState>({ last_sync: null, running: false, offline: false, last_error: null });
  progress = $state<SyncProgress | null>(null);
  /** Progress messages received over the channel in this session (shown to tests). */
  progressEvents = $state(0);
  /** A sync that this window started is running (and can be cancelled from here). */
  #started = $state(false);

  get running(): boolean {
    return this.state.running;
  }

  /** The running sync is this window's, so its Cancel works. A sync run by the background
   * watcher or by the Keyward Server shows as running too, but this window cannot stop it. */
  get startedHere(): boolean {
    return this.state.running && this.#started;
  }

  async refresh(): Promise<void> {
    try {
      this.state = await backend.syncState();
    } catch {
      /* the status line simply stays as it was */
    }
  }

  /** Kinde could not be reached: the offline banner shows, with the error's hint. */
  markOffline(err: CoreError): void {
    this.state = { ...this.state, offline: true, last_error: err };
  }

  /** What a list from the local cache says: when it was synced, and whether Kinde answered. */
  noteCache(syncedAt: string | null, warning: CoreError | null): void {
    if (syncedAt && (!this.state.last_sync || syncedAt > this.state.last_sync)) {
      this.state = { ...this.state, last_sync: syncedAt };
    }
    if (warning && warning.code !== "offline" && OFFLINE_CODES.has(warning.code)) this.markOffline(warning);
  }

  /** Starts a sync; each progress message is shown, then handed to `onProgress`. Call
   * `succeeded` when it resolves and `finish` in any case. */
  start(full: boolean, onProgress: (p: SyncProgress) => void): Promise<SyncSummary> {
    this.state = { ...this.state, running: true };
    this.progress = { phase: "listing", pages: 0, keys_seen: 0, details_done: 0, details_total: 0, more_pages: true, rev: 0, concurrency: 0 };
    const channel = new backend.Channel<SyncProgress>();
    channel.onmessage = (p) => {
      this.progress = p;
      this.progressEvents += 1;
      onProgress(p);
    };
    this.#started = true;
    return backend.syncStart(full, channel);
  }

  succeeded(): void {
    this.state = { ...this.state, offline: false, last_error: null };
  }

  /** After a sync, whatever its outcome: the status line as Rust has it, not running. */
  async finish(): Promise<void> {
    this.#started = false;
    this.progress = null;
    await this.refresh();
    this.state = { ...this.state, running: false };
  }

  /** Asks Rust to stop the sync that this window started. */
  async cancel(): Promise<void> {
    if (this.#started) await backend.syncCancel();
  }
}

export const sync = new Sync();
