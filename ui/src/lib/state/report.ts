// Failures that no field or dialog shows, reported once: a toast with the error in words, its
// hint, and the raw detail behind "Details"; and the offline banner when Kinde is unreachable.
// A dialog or a form shows its own error (logic/errors.ts `describe`) and calls `noteOffline`.
import { OFFLINE_CODES, describe, toCoreError, type CoreError } from "../logic/errors";
import { ui } from "./ui.svelte";
import { sync } from "./sync.svelte";

export function report(e: unknown, context?: string): CoreError {
  const err = noteOffline(e);
  const w = describe(err);
  ui.toast("error", context ? `${context}: ${w.title}` : w.title, w.hint, w.detail);
  return err;
}

/** For an error shown where it happened (at a field, in a dialog): no toast, only the offline
 * banner when it says Kinde is unreachable. */
export function noteOffline(e: unknown): CoreError {
  const err = toCoreError(e);
  if (OFFLINE_CODES.has(err.code)) sync.markOffline(err);
  return err;
}

/** Runs `f`; a failure is reported (with `what` as its context) and answers `undefined`. */
export async function attempt<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    report(e, what);
    return undefined;
  }
}
