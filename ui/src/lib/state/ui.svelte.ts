// UI chrome: where the window is (the route), what covers it (an overlay, the Create key
// dialog), the theme, the toasts and the clock that relative times follow. No back end here.
import type { KeyQuery } from "../logic/keys";
import type { Toast } from "../components/Toasts.svelte";

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

  go(r: Route): void {
    this.route = r;
  }

  /** The keys list with some filters set (an org's or a user's keys). */
  showKeys(filter: Partial<KeyQuery>): void {
    this.keyFilter = filter;
    this.route = { name: "keys" };
  }

  /** Back to the Keys screen with nothing open over it (a new session). */
  resetView(): void {
    this.route = { name: "keys" };
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
