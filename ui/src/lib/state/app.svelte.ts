// App-wide state (Svelte 5 runes). Screens read it; actions go through `backend`.
import { backend, toCoreError } from "../backend";
import type {
  Alert,
  Api,
  KeyMeta,
  AppStatus,
  CoreError,
  Environment,
  KeyView,
  Org,
  SyncProgress,
  SyncState,
  User,
} from "../backend";
import { reuseUnchanged, type KeyQuery } from "../logic/keys";
import { KeyIndex } from "../logic/keyindex";
import { alertsByKey as indexAlerts, type KeyAlerts } from "../logic/alerts";
import { CLIPBOARD_CLEAR_SECS, expired, remaining, startCountdown, type Countdown } from "../logic/countdown";

export type Route =
  | { name: "keys" }
  | { name: "key"; id: string }
  | { name: "insights" }
  | { name: "migrations" }
  | { name: "audit"; keyId?: string }
  | { name: "doctor" }
  | { name: "settings" }
  | { name: "alerts"; keyId?: string }
  | { name: "scan" }
  | { name: "add-profile" };

export type Toast = {
  id: number;
  kind: "error" | "success" | "info";
  title: string;
  hint?: string;
  code?: string;
};

/** A one-time secret on screen. Cleared (for good) by Done. */
export type ShownSecret = { keyId: string; secret: string; title: string; note?: string };

/** What covers the screen: the command palette, the shortcuts help or the About dialog. */
export type Overlay = "palette" | "help" | "about";

/** Light, dark, or what the OS says (the default). Kept in the webview's local storage. */
export type Theme = "system" | "light" | "dark";
const THEME_KEY = "keyward.theme";

let toastSeq = 0;

/** Codes that mean "Kinde is unreachable": show the cache and the offline banner. */
const OFFLINE_CODES: ReadonlySet<string> = new Set(["offline", "connection_refused", "dns", "timeout", "network", "tls"]);

class App {
  status = $state<AppStatus | null>(null);
  route = $state<Route>({ name: "keys" });
  booting = $state(true);
  bootError = $state<CoreError | null>(null);

  keys = $state.raw<KeyView[]>([]);
  keysLoaded = $state(false);
  keysLoading = $state(false);
  /** Bumped whenever keys change, so open screens can refresh their detail. */
  keysVersion = $state(0);
  /** The keys table's index (search, filters, sorts), kept in step with `keys`: a change of k
   * keys re-indexes k keys. Not reactive itself; `indexVersion` says when it changed. */
  readonly index = new KeyIndex();
  indexVersion = $state(0);
  /** The store's change cursor the list reflects: a sync's delta is what changed after it. */
  private rev = 0;
  private deltaRunning: Promise<void> | null = null;
  private deltaAgain = false;

  apis = $state.raw<Api[]>([]);
  orgs = $state.raw<Org[]>([]);
  users = $state.raw<User[]>([]);

  sync = $state<SyncState>({ last_sync: null, running: false, offline: false, last_error: null });
  progress = $state<SyncProgress | null>(null);
  /** Progress messages received over the channel in this session (shown to tests). */
  progressEvents = $state(0);
  private cancelSync: (() => Promise<void>) | null = null;

  toasts = $state<Toast[]>([]);

  /** The palette, the shortcuts help or About (one at a time). */
  overlay = $state<Overlay | null>(null);
  /** The Create key dialog (the Keys screen shows it; N and the palette open it). */
  creating = $state(false);
  /** Filters for the Keys screen to apply once it shows (the palette's org and user items). */
  keyFilter = $state<Partial<KeyQuery> | null>(null);
  theme = $state<Theme>("system");

  /** Open (unacknowledged, unmuted) alerts, newest first, and the counts for the navigation. */
  alerts = $state.raw<Alert[]>([]);
  alertsOpen = $state(0);
  alertsHigh = $state(0);
  /** Bumped after every alerts refresh, so the Alerts screen reloads its own (filtered) list. */
  alertsVersion = $state(0);
  /** Open alerts per key (badges in the keys table and the key detail). */
  alertsByKey = $derived<Map<string, KeyAlerts>>(indexAlerts(this.alerts));
  /** Local marks per key: canary, expires on. */
  metas = $state.raw<Map<string, KeyMeta>>(new Map());

  /** Clipboard countdown after copying a secret (Rust clears it; this only shows the time). */
  clip = $state<Countdown>(null);
  now = $state(Date.now());
  private clipTimer: ReturnType<typeof setInterval> | null = null;
  secret = $state<ShownSecret | null>(null);

  get demo(): boolean {
    return this.status?.mode === "demo";
  }

  get environment(): Environment {
    const s = this.status;
    if (!s) return "production";
    if (s.mode === "demo") return "demo";
    return s.profiles.find((x) => x.name === s.profile)?.environment ?? "production";
  }

  async boot(): Promise<void> {
    this.booting = true;
    this.loadTheme();
    // Relative times ("5 min ago") follow the clock.
    setInterval(() => {
      if (!this.clipTimer) this.now = Date.now();
    }, 10_000);
    try {
      this.setStatus(await backend.appStatus());
      await backend.onSyncEvent((s) => {
        const before = this.sync.last_sync;
        this.sync = s;
        if (s.last_sync !== before && !this.sync.running) {
          void (this.keys.length > 0 ? this.applyDelta() : this.loadKeys(true));
          void this.refreshAlerts();
        }
      });
    } catch (e) {
      this.bootError = toCoreError(e);
    } finally {
      this.booting = false;
    }
  }

  setStatus(s: AppStatus): void {
    const changed = s.mode !== this.status?.mode || s.profile !== this.status?.profile;
    this.status = s;
    if (changed) {
      this.setKeys([]);
      this.rev = 0;
      this.keysLoaded = false;
      this.apis = [];
      this.orgs = [];
      this.users = [];
      this.secret = null;
      this.alerts = [];
      this.alertsOpen = 0;
      this.alertsHigh = 0;
      this.metas = new Map();
      this.route = { name: "keys" };
      this.creating = false;
      this.keyFilter = null;
      if (s.mode !== "welcome") void this.afterOpen();
    }
  }

  private async afterOpen(): Promise<void> {
    void this.loadDirectory();
    await this.refreshSyncState();
    const cached = await this.loadKeys(true);
    void this.refreshAlerts();
    // First open of a profile (no local cache yet): fill it from Kinde.
    if (!cached || this.keys.length === 0) await this.runSync(false);
  }

  async refreshSyncState(): Promise<void> {
    try {
      this.sync = await backend.syncState();
    } catch {
      /* the status line simply stays as it was */
    }
  }

  /** Loads every key (the table filters in memory). `offline` answers from the cache alone. */
  async loadKeys(offline = true): Promise<boolean> {
    this.keysLoading = true;
    try {
      // The cursor first: a change made between the two calls comes again with the next delta.
      const cursor = await backend.keysChangedSince(Number.MAX_SAFE_INTEGER).catch(() => null);
      const res = await backend.keysList(
        { org_code: null, user_id: null, status: null, key_type: null, api_id: null, search: null },
        offline,
      );
      // A sync that changed nothing leaves the list (and everything derived from it) alone.
      const { keys, changed } = reuseUnchanged(this.keys, res.keys);
      if (changed) this.setKeys(keys as KeyView[]);
      if (cursor) this.rev = cursor.rev;
      if (res.synced_at && (!this.sync.last_sync || res.synced_at > this.sync.last_sync)) {
        this.sync = { ...this.sync, last_sync: res.synced_at };
      }
      const w = res.warning;
      if (w && w.code !== "offline" && OFFLINE_CODES.has(w.code)) {
        this.sync = { ...this.sync, offline: true, last_error: w };
      }
      this.keysLoaded = true;
      this.keysVersion += 1;
      return true;
    } catch (e) {
      // No local copy yet is not an error: the first sync fills it.
      if (toCoreError(e).code !== "offline") this.error(e, "Could not load keys");
      return false;
    } finally {
      this.keysLoading = false;
    }
  }

  async loadDirectory(): Promise<void> {
    const [apis, orgs, users] = await Promise.allSettled([
      backend.apisList(),
      backend.orgsList(null),
      backend.usersList(null),
    ]);
    if (apis.status === "fulfilled") this.apis = apis.value;
    if (orgs.status === "fulfilled") this.orgs = orgs.value;
    if (users.status === "fulfilled") this.users = users.value;
  }

  async runSync(full: boolean): Promise<void> {
    if (this.sync.running) return;
    this.sync = { ...this.sync, running: true };
    this.progress = { phase: "listing", pages: 0, keys_seen: 0, details_done: 0, details_total: 0, more_pages: true, rev: 0, concurrency: 0 };
    const h = backend.sync(full, (p) => {
      this.progress = p;
      this.progressEvents += 1;
      // List-first: rows arrive with the listing, details stream in after; apply the delta.
      if (p.rev > this.rev) this.scheduleDelta();
    });
    this.cancelSync = h.cancel;
    try {
      await h.done;
      this.sync = { ...this.sync, offline: false, last_error: null };
    } catch (e) {
      const err = toCoreError(e);
      if (err.code === "sync_in_progress") {
        // Another sync of this profile (the CLI, another window) is running: not a failure.
        this.toast("info", "Another sync of this profile is running", err.hint, err.code);
      } else if (err.code !== "cancelled") {
        this.error(err, "Sync failed");
      }
    } finally {
      this.cancelSync = null;
      this.progress = null;
      await this.refreshSyncState();
      this.sync = { ...this.sync, running: false };
      if (this.keysLoaded && this.keys.length > 0) await this.applyDelta();
      else await this.loadKeys(true);
      await this.refreshAlerts();
    }
  }

  /** At most one delta request in flight, and at most every 300 ms during a sync. */
  private scheduleDelta(): void {
    if (this.deltaRunning) {
      this.deltaAgain = true;
      return;
    }
    this.deltaRunning = (async () => {
      do {
        this.deltaAgain = false;
        await this.applyDelta();
        await new Promise((r) => setTimeout(r, 300));
      } while (this.deltaAgain);
    })().finally(() => {
      this.deltaRunning = null;
    });
  }

  /** Applies the keys changed since the list's cursor (k rows, not the whole list). */
  async applyDelta(): Promise<void> {
    try {
      const d = await backend.keysChangedSince(this.rev);
      if (d.keys.length > 0) {
        if (this.keys.length === 0) this.setKeys(d.keys);
        else this.patchKeys(d.keys);
      }
      this.rev = Math.max(this.rev, d.rev);
      if (!this.keysLoaded && d.keys.length > 0) this.keysLoaded = true;
    } catch {
      /* no store yet: the first listing page creates it */
    }
  }

  /** Reloads the open alerts and the keys' local marks (after a sync, an ack or a mute). */
  async refreshAlerts(): Promise<void> {
    try {
      const [list, policy] = await Promise.all([
        backend.alertsList({ since: null, kind: null, key_id: null, include_acknowledged: false, include_muted: false, limit: 5000 }),
        backend.policyShow(),
      ]);
      this.alerts = list.alerts;
      this.alertsOpen = list.open_total;
      this.alertsHigh = list.open_high;
      this.metas = new Map(policy.keys.map((m) => [m.key_id, m]));
      this.alertsVersion += 1;
    } catch {
      /* no store yet (first open before a sync): the counts stay as they were */
    }
  }

  patchMeta(m: KeyMeta): void {
    const next = new Map(this.metas);
    next.set(m.key_id, m);
    this.metas = next;
  }

  async cancel(): Promise<void> {
    await this.cancelSync?.();
  }

  go(r: Route): void {
    this.route = r;
  }

  /** The keys list with some filters set (an org's or a user's keys). */
  showKeys(filter: Partial<KeyQuery>): void {
    this.keyFilter = filter;
    this.route = { name: "keys" };
  }

  /** Reads the saved theme and applies it (at boot). */
  loadTheme(): void {
    let t: string | null = null;
    try {
      t = localStorage.getItem(THEME_KEY);
    } catch {
      /* no storage: follow the OS */
    }
    this.setTheme(t === "light" || t === "dark" ? t : "system", false);
  }

  setTheme(t: Theme, save = true): void {
    this.theme = t;
    const root = document.documentElement;
    if (t === "system") delete root.dataset.theme;
    else root.dataset.theme = t;
    if (!save) return;
    try {
      if (t === "system") localStorage.removeItem(THEME_KEY);
      else localStorage.setItem(THEME_KEY, t);
    } catch {
      /* not saved: it still applies to this session */
    }
  }

  /** A new key list: the index takes only what changed (unchanged keys keep their objects,
   * see `reuseUnchanged`), or starts over when keys left the list. */
  setKeys(next: KeyView[]): void {
    const prev = this.keys;
    const nextIds = new Set<string>();
    for (const k of next) nextIds.add(k.id);
    const removed = prev.some((k) => !nextIds.has(k.id));
    if (removed || prev.length === 0) {
      this.index.reset(next);
    } else {
      const old = new Map<string, KeyView>();
      for (const k of prev) old.set(k.id, k);
      this.index.apply(next.filter((k) => old.get(k.id) !== k));
    }
    this.keys = next;
    this.indexVersion += 1;
  }

  /** Replaces (or adds) keys after an action, without reloading 10,000 rows. */
  patchKeys(ks: ReadonlyArray<KeyView>): void {
    if (ks.length === 0) return;
    const byId = new Map<string, KeyView>();
    for (const k of ks) byId.set(k.id, k);
    const next = this.keys.map((x) => byId.get(x.id) ?? x);
    const known = new Set(this.keys.map((x) => x.id));
    const added = ks.filter((k) => !known.has(k.id));
    this.keys = added.length > 0 ? [...added, ...next] : next;
    this.index.apply(ks);
    this.indexVersion += 1;
    this.keysVersion += 1;
  }

  patchKey(k: KeyView): void {
    this.patchKeys([k]);
  }

  async copySecret(text: string): Promise<void> {
    try {
      const secs = await backend.clipboardCopy(text);
      this.clip = startCountdown(Date.now(), secs || CLIPBOARD_CLEAR_SECS);
      this.now = Date.now();
      if (this.clipTimer) clearInterval(this.clipTimer);
      this.clipTimer = setInterval(() => {
        this.now = Date.now();
        if (expired(this.clip, this.now)) this.stopClip();
      }, 250);
    } catch (e) {
      this.error(e, "Could not copy");
    }
  }

  async clearClipboard(): Promise<void> {
    await this.act("Could not clear the clipboard", () => backend.clipboardClear());
    this.stopClip();
  }

  private stopClip(): void {
    if (this.clipTimer) clearInterval(this.clipTimer);
    this.clipTimer = null;
    this.clip = null;
  }

  get clipLeft(): number | null {
    return remaining(this.clip, this.now);
  }

  showSecret(s: ShownSecret): void {
    this.secret = s;
  }

  toast(kind: Toast["kind"], title: string, hint?: string, code?: string): void {
    const t: Toast = { id: ++toastSeq, kind, title, ...(hint ? { hint } : {}), ...(code ? { code } : {}) };
    this.toasts = [...this.toasts, t].slice(-4);
    const ms = kind === "error" ? 9000 : 4000;
    setTimeout(() => this.dismiss(t.id), ms);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  error(e: unknown, context?: string): CoreError {
    const err = toCoreError(e);
    if (OFFLINE_CODES.has(err.code)) {
      this.sync = { ...this.sync, offline: true, last_error: err };
    }
    this.toast("error", context ? `${context}: ${err.message}` : err.message, err.hint, err.code);
    return err;
  }

  async act<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
    try {
      return await f();
    } catch (e) {
      this.error(e, what);
      return undefined;
    }
  }

  ownerName(k: Pick<KeyView, "owner_name" | "org_code" | "user_id">): string {
    if (k.owner_name) return k.owner_name;
    if (k.org_code) return this.orgs.find((o) => o.code === k.org_code)?.name ?? k.org_code;
    if (k.user_id) return k.user_id;
    return "—";
  }
}

export const app = new App();
