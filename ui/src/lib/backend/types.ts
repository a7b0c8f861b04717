// The UI's single view of the back end. Screens and state import from here, never from
// `@tauri-apps/*` (those imports live only in this folder). Every type is generated from Rust.

import type * as T from "./ipc-types";

export type * from "./ipc-types";
export type { Error as CoreError } from "./ipc-types";

/** A running sync: resolves with the summary; `cancel()` asks Rust to stop. */
export type SyncHandle = { done: Promise<T.SyncSummary>; cancel: () => Promise<void> };

export interface Backend {
  // session and profiles
  appStatus(): Promise<T.AppStatus>;
  profileAdd(input: T.NewProfile): Promise<T.AppStatus>;
  profileSelect(name: string): Promise<T.AppStatus>;
  profileRemove(name: string): Promise<T.AppStatus>;
  /** The connection doctor on unsaved credentials (the Connect form). */
  profileTest(draft: T.ProfileDraft): Promise<T.DoctorReport>;
  demoStart(): Promise<T.AppStatus>;
  demoLeave(): Promise<T.AppStatus>;
  settingsSet(settings: T.Settings): Promise<T.AppStatus>;

  // keys
  keysList(filter: T.KeyFilter, offline: boolean): Promise<T.CachedKeys>;
  /** Keys changed since a change cursor (0: all), from the cache, and the current cursor. */
  keysChangedSince(sinceRev: number): Promise<T.KeyChanges>;
  keyShow(id: string): Promise<T.KeyView>;
  keyCreate(input: T.CreateKeyInput): Promise<T.NewKey>;
  keyRotate(id: string): Promise<T.NewKey>;
  keyReissue(id: string, scopes: Array<string> | null): Promise<T.Reissued>;
  keysRevoke(ids: Array<string>): Promise<T.RevokeSummary>;

  // directory
  apisList(): Promise<Array<T.Api>>;
  orgsList(search: string | null): Promise<Array<T.Org>>;
  usersList(search: string | null): Promise<Array<T.User>>;

  // doctor
  doctorKey(input: T.DoctorKeyInput): Promise<T.DoctorReport>;
  doctorConnection(): Promise<T.DoctorReport>;

  // store: sync, history, insights, audit, migrations, export
  sync(full: boolean, onProgress: (p: T.SyncProgress) => void): SyncHandle;
  syncState(): Promise<T.SyncState>;
  keyHistory(id: string, bucket: T.Bucket, sinceDays: number): Promise<T.KeyHistory>;
  insights(recentDays: number): Promise<T.Insights>;
  auditList(filter: T.AuditFilter): Promise<Array<T.AuditEntry>>;
  migrationsList(): Promise<Array<T.Migration>>;
  /** Opens a save dialog; resolves with what was written, or null when the user cancelled. */
  exportTo(what: T.ExportWhat, format: T.ExportFormat): Promise<T.ExportSummary | null>;

  // clipboard (done in Rust so the webview needs no clipboard permission)
  /** Copies; Rust clears the clipboard after the returned number of seconds if it still holds `text`. */
  clipboardCopy(text: string): Promise<number>;
  /** Clears the clipboard now if it still holds what Keyward copied. */
  clipboardClear(): Promise<void>;
  /** Copies non-secret text (a key id). */
  copyText(text: string): Promise<void>;

  // watchtower: alerts, policies, canaries, leak triage
  alertsList(filter: T.AlertFilter): Promise<T.AlertList>;
  alertsAck(ids: Array<number>): Promise<Array<T.Alert>>;
  alertsMute(target: T.MuteTarget): Promise<number>;
  alertsUnmute(target: T.MuteTarget): Promise<boolean>;
  alertMutes(): Promise<Array<T.Mute>>;
  notifyState(): Promise<T.NotifyState>;
  notifyTest(): Promise<T.NotifyState>;

  // about
  /** The version and the data, config and log folders (the About dialog). */
  about(): Promise<T.AboutInfo>;
  /** Opens the session's data folder in the file manager; returns its path. */
  openDataFolder(): Promise<string>;
  policyShow(): Promise<T.PolicyView>;
  policySet(policy: T.Policy): Promise<T.PolicyView>;
  keyExpiresSet(id: string, on: string | null): Promise<T.KeyMeta>;
  canaryMark(id: string, canary: boolean): Promise<T.KeyMeta>;
  canaryCreate(input: T.CreateKeyInput): Promise<T.NewKey>;
  /** Opens a folder dialog; null when the user cancelled. */
  scanPickFolder(): Promise<string | null>;
  scanPaths(paths: Array<string>): Promise<T.ScanReport>;
  leakRemediate(keyId: string, action: T.LeakAction, found: Array<T.SecretHit>): Promise<T.LeakRemediation>;

  /** Sync status pushed by Rust after every sync (the background timer included). */
  onSyncEvent(cb: (s: T.SyncState) => void): Promise<() => void>;
}

/** Normalizes anything thrown by the back end into `{code, message, hint}`. */
export function toCoreError(e: unknown): T.Error {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: unknown; message: unknown; hint?: unknown };
    return {
      code: String(o.code) as T.ErrorCode,
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
