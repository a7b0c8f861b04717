// What the command palette can do besides opening a key: every screen and every app-wide
// action, built from the app's state (the open session, the theme, the profiles).
import * as backend from "../backend/commands";
import type { IconName } from "../components/Icon.svelte";
import type { PaletteItem } from "../logic/palette";
import { ui } from "../state/ui.svelte";
import { sync } from "../state/sync.svelte";
import { attempt } from "../state/report";
import { session } from "../state/session.svelte";

export type Action = PaletteItem & { icon: IconName; run: () => void };

/** The screens of the navigation, in its order (the palette lists them first). */
export const SCREENS = [
  { route: "keys", title: "Keys", icon: "key", detail: "every API key, filterable" },
  { route: "alerts", title: "Alerts", icon: "bell", detail: "new IPs, spikes, drift, canaries, expiry" },
  { route: "insights", title: "Insights", icon: "chart", detail: "verifications per org and API, stale keys" },
  { route: "handovers", title: "Handovers", icon: "swap", detail: "re-issued keys and whether the old one is safe to revoke" },
  { route: "audit", title: "Audit log", icon: "list", detail: "what was done, by whom, and exports" },
  { route: "doctor", title: "Key doctor", icon: "doctor", detail: "diagnose a key or the connection" },
  { route: "scan", title: "Leak scan", icon: "scan", detail: "find Kinde key secrets in folders" },
  { route: "settings", title: "Settings", icon: "gear", detail: "sync, policy, notifications" },
] as const;

async function exportTo(what: "keys" | "history" | "audit"): Promise<void> {
  const done = await attempt("Export failed", () => backend.exportTo(what, "csv"));
  if (done) ui.toast("success", `Exported ${done.rows} rows of ${done.what} to ${done.path}`);
}

export async function openDataFolder(): Promise<void> {
  const path = await attempt("Could not open the data folder", () => backend.openDataFolder());
  if (path) ui.toast("info", `Opened ${path}`);
}

export function paletteActions(): Action[] {
  const out: Action[] = SCREENS.map((s) => ({
    id: `screen:${s.route}`,
    kind: "screen",
    title: s.title,
    detail: s.detail,
    icon: s.icon,
    run: () => ui.go({ name: s.route }),
  }));
  const act = (id: string, title: string, icon: IconName, detail: string, run: () => void, shortcut?: string): void => {
    out.push({ id: `action:${id}`, kind: "action", title, icon, detail, run, ...(shortcut ? { shortcut } : {}) });
  };
  // On a team profile, what the member's role may not do is not offered.
  if (session.can("key_create")) {
    act("create-key", "Create key", "plus", "a new API key with scopes, for an org or a user", () => {
      ui.go({ name: "keys" });
      ui.creating = true;
    }, "N");
  }
  if (sync.startedHere) act("sync-cancel", "Cancel the sync", "sync", "stop the running sync", () => void sync.cancel());
  else if (session.isTeam) {
    if (session.can("sync_start")) act("sync", "Sync now", "sync", "ask the Keyward Server to sync now", () => void session.runSync(false));
  } else {
    act("sync", "Sync now", "sync", "fetch what changed in Kinde", () => void session.runSync(false));
    act("sync-full", "Full sync", "sync", "re-read every key's details from Kinde", () => void session.runSync(true));
  }
  act("help", "Keyboard shortcuts", "keyboard", "every shortcut of the app", () => (ui.overlay = "help"), "?");
  act("about", "About Keyward", "info", "version, data and log folders", () => (ui.overlay = "about"));
  act("open-data", "Open the data folder", "folder", "where this session's database lives", () => void openDataFolder());
  for (const [t, title] of [["dark", "Theme: dark"], ["light", "Theme: light"], ["system", "Theme: follow the system"]] as const) {
    if (ui.theme !== t) act(`theme-${t}`, title, "moon", "switch the colour theme", () => ui.setTheme(t));
  }
  act("export-keys", "Export keys (CSV)", "list", "every key, to a file you choose", () => void exportTo("keys"));
  act("export-history", "Export verification history (CSV)", "chart", "Keyward's local history, to a file", () => void exportTo("history"));
  act("export-audit", "Export the audit log (CSV)", "list", "to a file you choose", () => void exportTo("audit"));
  act("add-profile", "Add a profile", "plus", "connect another Kinde business or a team's Keyward Server", () => ui.go({ name: "add-profile" }));
  const st = session.status;
  for (const p of st?.profiles ?? []) {
    if (!session.demo && p.name === st?.profile) continue;
    act(`profile-${p.name}`, `Switch to profile ${p.name}`, "door", `${p.domain} · ${p.environment}`, () => void session.selectProfile(p.name));
  }
  if (session.demo) act("leave-demo", "Leave the demo", "door", "back to your profiles", () => void session.leaveDemo());
  return out;
}
