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

/** An error in words for a person: a title that says what went wrong, the hint (what to do),
 * the field it belongs to (for `invalid_input`), and the raw detail for a "Details" disclosure. */
export type ErrorWords = { title: string; hint: string; field: string | null; detail: string };

const TITLES: Partial<Record<ErrorCode, string>> = {
  profile_not_found: "This profile no longer exists",
  profile_exists: "A profile with this name already exists",
  secret_missing: "This profile has no client secret",
  keyring_unavailable: "The OS keyring could not be reached",
  invalid_client: "Kinde refused the client id or the client secret",
  unauthorized_client: "This application may not use the Management API",
  token_request_failed: "Kinde did not issue an access token",
  unauthenticated: "Kinde no longer accepts the access token",
  missing_scope: "The application lacks a Management API scope",
  forbidden: "Your role on the Keyward Server does not allow this",
  not_found: "Kinde has no such item",
  bad_request: "Kinde refused the request",
  rate_limited: "Kinde is rate limiting requests",
  server_error: "Kinde had a server error",
  unexpected_response: "Kinde answered something Keyward does not understand",
  ambiguous: "The outcome is unknown",
  dns: "The Kinde domain could not be found",
  tls: "A secure connection to Kinde could not be made",
  connection_refused: "Kinde could not be reached",
  timeout: "Kinde did not answer in time",
  network: "Kinde could not be reached",
  offline: "Kinde could not be reached",
  database: "The local database failed",
  database_too_new: "The local database is from a newer Keyward",
  io: "A file could not be read or written",
  sync_in_progress: "Another sync of this profile is running",
  cancelled: "Cancelled",
  internal: "Something went wrong in Keyward",
};

/** The codes that mean the saved profile itself is wrong (its secret or client id): the fix is
 * to edit the profile. (A name that does not resolve may be a laptop offline: see OFFLINE_CODES.) */
export const PROFILE_CODES: ReadonlySet<string> = new Set(["invalid_client", "unauthorized_client", "secret_missing"]);

/** Inline code spans of the core's hints (`keyward ...`, `mybiz.kinde.com`) read as plain words. */
function plain(s: string): string {
  return s.replace(/`([^`]*)`/g, "$1");
}

/** Words for an error, chosen by its code. An `invalid_input` names its field the way the core
 * builds it (`Error::invalid_input(field, problem, hint)` is "field: problem"). */
export function describe(e: unknown): ErrorWords {
  const err = toCoreError(e);
  const detail = `${err.message} (${err.code})`;
  if (err.code === "invalid_input") {
    const i = err.message.indexOf(": ");
    const field = i > 0 ? err.message.slice(0, i) : null;
    const problem = i > 0 ? err.message.slice(i + 2) : err.message;
    const title = field ? `The ${field} ${plain(problem)}` : plain(problem);
    return { title, hint: plain(err.hint), field, detail };
  }
  return { title: TITLES[err.code] ?? "Something went wrong", hint: plain(err.hint), field: null, detail };
}
