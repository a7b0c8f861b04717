// Errors cross from Rust as `{code, message, hint}`; the UI branches on `code`, never on text.
import type { Error as CoreError } from "../bindings/Error";
import type { ErrorCode } from "../bindings/ErrorCode";

export type { CoreError };

/** Normalizes anything thrown by the back end into `{code, message, hint}`. */
export function toCoreError(e: unknown): CoreError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: unknown; message: unknown; hint?: unknown };
    return {
      code: String(o.code) as ErrorCode,
      message: String(o.message),
      hint: typeof o.hint === "string" ? o.hint : "",
    };
  }
  return {
    code: "internal",
    message: e instanceof Error ? e.message : String(e),
    hint: "This is a bug in Keyward. Please report it with the steps that led here.",
  };
}

/** Codes that mean "Kinde is unreachable": show the cache and the offline banner. */
export const OFFLINE_CODES: ReadonlySet<string> = new Set(["offline", "connection_refused", "dns", "timeout", "network", "tls"]);
