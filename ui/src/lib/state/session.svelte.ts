// The session: what the window shows (the welcome screen, a profile or the demo), booting,
// switching, and the open session's data flow: the first fill, the syncs, and what follows a
// sync (the keys' delta, the alerts).
//
// The state is cut by concern; each module imports only those below it:
//   session  ->  keys, alerts, directory, secret  ->  report  ->  sync  ->  ui
import * as backend from "../backend/commands";
import type { AppStatus, Environment } from "../backend/commands";
import { PROFILE_CODES, toCoreError, type CoreError } from "../logic/errors";
import { ui } from "./ui.svelte";
import { sync } from "./sync.svelte";
import { attempt, report } from "./report";
import { keys } from "./keys.svelte";
import { alerts } from "./alerts.svelte";
import { directory } from "./directory.svelte";
import { secret } from "./secret.svelte";

class Session {
  status = $state<AppStatus | null>(null);
  booting = $state(true);
  bootError = $state<CoreError | null>(null);
  /** The open profile itself is wrong (Kinde refused its secret or client id, its domain does
   * not resolve): Settings shows it in words and offers to fix the profile. */
  problem = $state<CoreError | null>(null);

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
    ui.loadTheme();
    ui.startClock();
    try {
      this.setStatus(await backend.appStatus());
      await backend.onSyncState((s) => {
        const before = sync.state.last_sync;
        sync.state = s;
        if (s.last_sync !== before && !sync.running) {
          void (keys.list.length > 0 ? keys.applyDelta() : keys.load(true));
          void alerts.refresh();
        }
      });
    } catch (e) {
      this.bootError = toCoreError(e);
    } finally {
      this.booting = false;
    }
  }

  /** What Rust says the window shows; another profile (or the demo) starts afresh. */
  setStatus(s: AppStatus): void {
    const changed = s.mode !== this.status?.mode || s.profile !== this.status?.profile;
    this.status = s;
    if (changed) {
      this.problem = null;
      keys.reset();
      directory.reset();
      secret.done();
      alerts.reset();
      ui.resetView();
      if (s.mode !== "welcome") void this.#afterOpen();
    }
  }

  async #afterOpen(): Promise<void> {
    void directory.load();
    await sync.refresh();
    const cached = await keys.load(true);
    void alerts.refresh();
    // First open of a profile (no local cache yet): fill it from Kinde.
    if (!cached || keys.list.length === 0) await this.runSync(false);
  }

  /** Opens a saved profile. */
  async selectProfile(name: string): Promise<void> {
    const s = await attempt("Could not switch profile", () => backend.profileSelect(name));
    if (s) this.setStatus(s);
  }

  async startDemo(): Promise<void> {
    const s = await attempt("Could not start the demo", () => backend.demoStart());
    if (s) this.setStatus(s);
  }

  async leaveDemo(): Promise<void> {
    const s = await attempt("Could not leave the demo", () => backend.demoLeave());
    if (s) this.setStatus(s);
  }

  /** Syncs the open session; the keys follow its deltas as they come, the alerts after. */
  async runSync(full: boolean): Promise<void> {
    if (sync.running) return;
    try {
      // List-first: rows arrive with the listing, details stream in after; apply the delta.
      await sync.start(full, (p) => keys.follow(p.rev));
      sync.succeeded();
      this.problem = null;
    } catch (e) {
      const err = toCoreError(e);
      if (PROFILE_CODES.has(err.code) && !this.demo) {
        // The profile cannot connect: say so once, where it can be fixed (Settings, its
        // profile), and stop waiting for keys that cannot come.
        this.problem = err;
        keys.loaded = true;
        ui.go({ name: "settings" });
      } else if (err.code === "sync_in_progress") {
        // Another sync of this profile (the CLI, another window) is running: not a failure.
        ui.toast("info", "Another sync of this profile is running", err.hint, err.code);
      } else if (err.code !== "cancelled") {
        report(err, "Sync failed");
      }
    } finally {
      await sync.finish();
      if (this.problem) sync.state = { ...sync.state, last_error: this.problem };
      await keys.catchUp();
      await alerts.refresh();
    }
  }

  /** Saves a profile's new connection details in one step (a new secret, if given, goes to
   * the OS keyring): the core edits it in place, so a failure leaves the profile as it was, and
   * a default profile stays the default. The open profile is opened afresh with them. */
  async updateProfile(name: string, update: backend.ProfileUpdate): Promise<AppStatus> {
    const st = await backend.profileUpdate(name, update);
    // The same name: setStatus sees no change of profile, so start it afresh here.
    if (st.profile === name) this.status = null;
    this.setStatus(st);
    return st;
  }

  /** Removes a saved profile and its keyring entry (the local history is kept). */
  async removeProfile(name: string): Promise<boolean> {
    const st = await attempt(`Could not remove ${name}`, () => backend.profileRemove(name));
    if (st) this.setStatus(st);
    return st !== undefined;
  }
}

export const session = new Session();
