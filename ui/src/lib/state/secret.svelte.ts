// A one-time secret on screen, and the clipboard countdown after copying it (Rust clears the
// clipboard; this only shows the time left).
import * as backend from "../backend/commands";
import { CLIPBOARD_CLEAR_SECS, expired, fractionLeft, remaining, startCountdown, type Countdown } from "../logic/countdown";
import type { ShownSecret } from "../components/SecretPanel.svelte";
import { ui } from "./ui.svelte";
import { attempt, report } from "./report";

class Secret {
  /** Cleared (for good) by Done: nothing else holds it. */
  shown = $state<ShownSecret | null>(null);
  clip = $state<Countdown>(null);
  /** The secret the pending copy holds: the countdown belongs to it, not to whatever is on
   * screen now. */
  clipFor = $state.raw<ShownSecret | null>(null);
  /** The key whose one-time secret was shown last (created, rotated, re-issued): the keys
   * list highlights its row, as GitHub does a new token. It stays for the session, until the
   * list has been shown after the panel was dismissed and is left (`listLeft`). */
  fresh = $state<string | null>(null);
  /** The panel of `fresh` was dismissed: the next visit of the list is the highlight's last. */
  #freshDismissed = false;
  #timer: ReturnType<typeof setInterval> | null = null;

  show(s: ShownSecret): void {
    this.shown = s;
    this.fresh = s.keyId;
    this.#freshDismissed = false;
  }

  done(): void {
    this.shown = null;
    this.#freshDismissed = true;
  }

  /** The keys list was left (another screen, a key's page): a highlight already seen there
   * after its panel was dismissed ends. */
  listLeft(): void {
    if (this.#freshDismissed && this.shown === null) this.fresh = null;
  }

  /** Whole seconds until the clipboard is cleared; null when no copy is pending. */
  get clipLeft(): number | null {
    return remaining(this.clip, ui.now);
  }

  /** True when the clipboard holds the secret on screen (it was copied from this panel). */
  get copiedShown(): boolean {
    return this.shown !== null && this.clipFor === this.shown && this.clipLeft !== null;
  }

  /** The countdown's fraction left (1 → 0). */
  get clipFraction(): number {
    return fractionLeft(this.clip, ui.now);
  }

  async copy(text: string): Promise<void> {
    const from = this.shown;
    try {
      const secs = await backend.clipboardCopy(text);
      this.clipFor = from;
      this.clip = startCountdown(Date.now(), secs || CLIPBOARD_CLEAR_SECS);
      ui.tick();
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = setInterval(() => {
        ui.tick();
        if (expired(this.clip, ui.now)) this.#stop();
      }, 250);
    } catch (e) {
      report(e, "Could not copy");
    }
  }

  async clearClipboard(): Promise<void> {
    await attempt("Could not clear the clipboard", () => backend.clipboardClear());
    this.#stop();
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.clip = null;
    this.clipFor = null;
  }
}

export const secret = new Secret();
