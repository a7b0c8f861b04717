// Failures, reported once: a toast with the error's hint, and the offline banner when the
// error says Kinde is unreachable.
import { OFFLINE_CODES, toCoreError, type CoreError } from "../logic/errors";
import { ui } from "./ui.svelte";
import { sync } from "./sync.svelte";

export function report(e: unknown, context?: string): CoreError {
  const err = toCoreError(e);
  if (OFFLINE_CODES.has(err.code)) sync.markOffline(err);
  ui.toast("error", context ? `${context}: ${err.message}` : err.message, err.hint, err.code);
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
