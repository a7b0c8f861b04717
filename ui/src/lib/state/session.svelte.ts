// The session: what the window shows (the welcome screen, a profile or the demo), booting,
// switching, and the open session's data flow: the first fill, the syncs, and what follows a
// sync (the keys' delta, the alerts).
//
// The state is cut by concern; each module imports only those below it:
//   session  ->  keys, alerts, directory, secret  ->  report  ->  sync  ->  ui
import * as backend from "../backend/commands";
import type { AppStatus, Environment, TeamStatus } from "../backend/commands";
import { PROFILE_CODES, toCoreError, type CoreError } from "../logic/errors";
import { allows, whyNot } from "../logic/team";
import { ui } from "./ui.svelte";
import { sync } from "./sync.svelte";
import { attempt, report } from "./report";
import { keys } from "./keys.svelte";
import { alerts } from "./alerts.svelte";
import { directory } from "./directory.svelte";
import { secret } from "./secret.svelte";

/** How long the window waits for the first screen of keys before it shows the shell anyway. */
const FIRST_LOOK_MS = 400;

class Session {
  status = $state<AppStatus | null>(null);
  booting = $state(true);
  bootError = $state<CoreError | null>(null);
  /** The open profile itself is wrong (Kinde refused its secret or client id, its domain does
   * not resolve): Settings shows it in words and offers to fix the profile. */
  problem = $state<CoreError | null>(null);
  /** On a team profile: the member, the role, and the least role of every operation. */
  team = $state<TeamStatus | null>(null);

  get demo(): boolean {
    return this.status?.mode === "demo";
  }

  get environment(): Environment {
    const s = this.status;
    if (!s) return "production";
    if (s.mode === "demo") return "demo";
    return s.profiles.find((x) => x.name === s.profile)?.environment ?? "production";
  }

  /** The open profile is a team profile (on a Keyward Server). */
  get isTeam(): boolean {
    const s = this.status;
    return !!s && s.mode === "profile" && !!s.profiles.find((x) => x.name === s.profile)?.server;
  }

  /** Whether the member's role may run `op` (always, off a team; the server checks too). */
  can(op: string): boolean {
    const m = this.team?.member;
    return !this.isTeam || !m || allows(this.team?.roles ?? {}, m.role, op);
  }

  /** Why the member may not run `op` ("Viewers cannot revoke keys: ask an admin for an
   * operator role"), for a disabled action's title; `null` when it may. */
  why(op: string): string | null {
    const m = this.team?.member;
    if (!this.isTeam || !m) return null;
    return whyNot(this.team?.roles ?? {}, m.role, op);
  }

  /** The attributes of an action button gated by `op`: when the role may not, its reason as
   * the title and its description (`aria-describedby` of the reason Shell.svelte renders);
   * else the button's own `title`. Spread it on the button, with `disabled={… || !session.can(op)}`. */
  gate(op: string, title?: string): { title?: string; "aria-describedby"?: string } {
    const why = this.why(op);
    if (why) return { title: why, "aria-describedby": `why-${op}` };
    return title ? { title } : {};
  }

  /** Asks Rust who the member of the open team profile is. */
  async refreshTeam(): Promise<void> {
    try {
      this.team = await backend.teamStatus();
    } catch {
      /* the header simply shows no member */
    }
  }

  async boot(): Promise<void> {
    this.booting = true;
    ui.loadTheme();
    ui.startClock();
    try {
      const status = await backend.appStatus();
      performance.mark("kw:status");
      this.setStatus(status);
      // The window opens on the table with its rows, in one paint: the first screen is read
      // meanwhile (keys.start), and waited for at most FIRST_LOOK_MS (a first open, with no
      // cache, or a team server that is slow to answer, shows the shell at once).
      const firstLook = this.#firstLook;
      const listening = backend.onSyncState((s) => {
        const before = sync.state.last_sync;
        sync.state = s;
        if (s.last_sync !== before && !sync.running) {
          void keys.applyDelta();
          void alerts.refresh();
        }
      });
      await Promise.all([listening, firstLook && Promise.race([firstLook, new Promise((r) => setTimeout(r, FIRST_LOOK_MS))])]);
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
      this.team = null;
      keys.reset();
      directory.reset();
      secret.done();
      alerts.reset();
      ui.resetView();
      this.#firstLook = s.mode !== "welcome" ? this.#afterOpen() : null;
    }
  }

  /** The open session's first look at its keys (the counts and the first screen). */
  #firstLook: Promise<boolean> | null = null;

  /** Reads the session's state and first screen; resolves with whether the store had keys,
   * then runs what follows (the directory, alerts, a first sync) in the background. */
  #afterOpen(): Promise<boolean> {
    void this.refreshTeam();
    // The counts, the change cursor and the table's first screen (never the whole list), beside
    // the sync state.
    const started = Promise.all([sync.refresh(), keys.start()]).then(([, cached]) => cached);
    void started.then((cached) => this.#afterFirstLook(cached));
    return started;
  }

  async #afterFirstLook(cached: boolean): Promise<void> {
    // The directory (the filters' choices, owners' names, Create key's lists) once the table
    // painted: its three calls reach Kinde (a token, every org and user page), and nothing on
    // the first screen needs them.
    void keys.afterFirstTable(cached ? 3000 : 0).then(() => directory.load());
    void alerts.refresh();
    // First open of a profile (no local cache yet): fill it from Kinde. A team profile's list
    // comes from its server, which syncs by itself.
    if (!cached && !this.isTeam) await this.runSync(false);
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
    return this.#reopened(name, await backend.profileUpdate(name, update));
  }

  /** Saves a team profile's new server address and/or token (checked with the server first;
   * the token goes to the OS keyring), then opens it afresh. */
  async updateTeamProfile(name: string, edit: backend.TeamEdit): Promise<AppStatus> {
    return this.#reopened(name, await backend.teamProfileUpdate(name, edit));
  }

  #reopened(name: string, st: AppStatus): AppStatus {
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
