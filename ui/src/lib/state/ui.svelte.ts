// UI chrome: where the window is (the route), what covers it (an overlay, the Create key
// dialog), the theme, the sidebar and the keys table's columns, the way back from a key to the
// list, the toasts and the clock that relative times follow. No back end here.
import type { KeyQuery, Sort } from "../logic/keys";
import type { Toast } from "../components/Toasts.svelte";
import { parseHidden, type ColumnId } from "../logic/columns";

export type Route =
  | { name: "keys" }
  | { name: "key"; id: string }
  | { name: "insights" }
  | { name: "handovers" }
  | { name: "audit"; keyId?: string }
  | { name: "doctor" }
  | { name: "settings" }
  | { name: "alerts"; keyId?: string }
  | { name: "scan" }
  | { name: "add-profile" };

/** What covers the screen: the command palette, the shortcuts help or the About dialog. */
export type Overlay = "palette" | "help" | "about";

/** Light, dark, or what the OS says (the default). Kept in the webview's local storage. */
export type Theme = "system" | "light" | "dark";
const THEME_KEY = "keyward.theme";
/** The keys table's hidden columns (the column chooser), kept like the theme. */
const COLUMNS_KEY = "keyward.keys.hidden-columns";
/** The sidebar: as the window's width says (collapsed when narrow), or as the user chose. */
export type SidebarMode = "auto" | "expanded" | "collapsed";
const SIDEBAR_KEY = "keyward.sidebar";

/** The keys list as it was when a key was opened: Back returns to it, on the row opened. */
export type ListPlace = { query: KeyQuery; sort: Sort; keyId: string };

function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function sidebarMode(s: string | null): SidebarMode {
  return s === "expanded" || s === "collapsed" ? s : "auto";
}

function save(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    /* not saved: it still applies to this session */
  }
}

let toastSeq = 0;

class Ui {
  route = $state<Route>({ name: "keys" });
  /** The palette, the shortcuts help or About (one at a time). */
  overlay = $state<Overlay | null>(null);
  /** The Create key dialog (the Keys screen shows it; N and the palette open it). */
  creating = $state(false);
  /** Filters for the Keys screen to apply once it shows (the palette's org and user items). */
  keyFilter = $state<Partial<KeyQuery> | null>(null);
  theme = $state<Theme>("system");
  toasts = $state<Toast[]>([]);
  /** The time that relative times ("5 min ago") and countdowns are computed against. */
  now = $state(Date.now());

  /** Columns of the keys table the user hid. */
  hiddenColumns = $state<Set<ColumnId>>(parseHidden(load(COLUMNS_KEY)));
  sidebar = $state<SidebarMode>(sidebarMode(load(SIDEBAR_KEY)));
  /** Where the keys list was when a key was opened from it. */
  listPlace = $state<ListPlace | null>(null);
  /** The screen a key's page was opened from. */
  backTo: Route | null = null;
  /** Set by Back: the Keys screen restores `listPlace` and focuses its row, then clears it. */
  returning = $state(false);

  go(r: Route): void {
    if (r.name === "key" && this.route.name !== "key") this.backTo = this.route;
    this.returning = false;
    this.route = r;
  }

  /** Opens a key from the list, remembering the list's search, filters, sort and row. */
  openFromList(id: string, query: KeyQuery, sort: Sort): void {
    this.listPlace = { query: { ...query }, sort: { ...sort }, keyId: id };
    this.go({ name: "key", id });
  }

  /** From a key's page back to the screen it was opened from (Esc, Backspace, Alt+Left); to
   * the keys list as it was, on the row that was opened. */
  back(): void {
    if (this.route.name !== "key") return;
    const to: Route = this.backTo ?? { name: "keys" };
    this.route = to;
    this.returning = to.name === "keys" && this.listPlace !== null;
  }

  setColumnHidden(id: ColumnId, hidden: boolean): void {
    const next = new Set(this.hiddenColumns);
    if (hidden) next.add(id);
    else next.delete(id);
    this.hiddenColumns = next;
    save(COLUMNS_KEY, next.size === 0 ? null : JSON.stringify([...next]));
  }

  setSidebar(m: SidebarMode): void {
    this.sidebar = m;
    save(SIDEBAR_KEY, m === "auto" ? null : m);
  }

  /** The keys list with some filters set (an org's or a user's keys). */
  showKeys(filter: Partial<KeyQuery>): void {
    this.keyFilter = filter;
    this.go({ name: "keys" });
  }

  /** Back to the Keys screen with nothing open over it (a new session). */
  resetView(): void {
    this.go({ name: "keys" });
    this.listPlace = null;
    this.creating = false;
    this.keyFilter = null;
  }

  tick(): void {
    this.now = Date.now();
  }

  /** Relative times follow the clock. */
  startClock(): void {
    setInterval(() => this.tick(), 10_000);
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

  toast(kind: Toast["kind"], title: string, hint?: string, code?: string): void {
    const t: Toast = { id: ++toastSeq, kind, title, ...(hint ? { hint } : {}), ...(code ? { code } : {}) };
    this.toasts = [...this.toasts, t].slice(-4);
    const ms = kind === "error" ? 9000 : 4000;
    setTimeout(() => this.dismiss(t.id), ms);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }
}

export const ui = new Ui();
