// The secret panel's clipboard countdown: after a copy, the clipboard is cleared when it ends.

export const CLIPBOARD_CLEAR_SECS = 30;

export type Countdown = { startedAt: number; secs: number } | null;

export function startCountdown(now: number, secs = CLIPBOARD_CLEAR_SECS): Countdown {
  return { startedAt: now, secs };
}

/** Whole seconds left (30, 29, …, 0); 0 means "clear now". null when not running. */
export function remaining(c: Countdown, now: number): number | null {
  if (!c) return null;
  const left = c.secs - Math.floor((now - c.startedAt) / 1000);
  return Math.max(0, Math.min(c.secs, left));
}

export function expired(c: Countdown, now: number): boolean {
  return c !== null && remaining(c, now) === 0;
}

/** Fraction of the countdown left, for the little progress ring (1 → 0). */
export function fractionLeft(c: Countdown, now: number): number {
  if (!c) return 0;
  const ms = c.secs * 1000 - (now - c.startedAt);
  return Math.max(0, Math.min(1, ms / (c.secs * 1000)));
}
