// The UI's single view of the back end. Screens and state import from here, never from
// `@tauri-apps/*` (those imports live only in this folder).

import type { Api } from "../bindings/Api";
import type { Error as CoreError } from "../bindings/Error";
import type { KeyFilter } from "../bindings/KeyFilter";
import type { KeyView } from "../bindings/KeyView";
import type { Org } from "../bindings/Org";
import type { Owner } from "../bindings/Owner";
import type { User } from "../bindings/User";
import type { VerifyResult } from "../bindings/VerifyResult";
import type {
  AppStatus,
  AuditEntry,
  AuditFilter,
  Bucket,
  ConnectionInput,
  CreatedKey,
  DoctorKeyInput,
  DoctorReport,
  ExportFormat,
  ExportWhat,
  Insights,
  KeyHistory,
  Migration,
  ProfileInput,
  ReissueResult,
  RevokeSummary,
  Settings,
  SyncProgress,
  SyncState,
  SyncSummary,
} from "./pending-types";

export type * from "./pending-types";
export type { Api, CoreError, KeyFilter, KeyView, Org, Owner, User, VerifyResult };

export type CreateKeyInput = { name: string; owner: Owner; api_id: string; scope_ids: Array<string> };

/** A running sync: resolves with the summary; `cancel()` asks Rust to stop. */
export type SyncHandle = { done: Promise<SyncSummary>; cancel: () => Promise<void> };

export interface Backend {
  // session and profiles
  appStatus(): Promise<AppStatus>;
  profileAdd(input: ProfileInput): Promise<AppStatus>;
  profileSelect(name: string): Promise<AppStatus>;
  profileRemove(name: string): Promise<AppStatus>;
  demoStart(): Promise<AppStatus>;
  demoLeave(): Promise<AppStatus>;
  settingsSet(settings: Settings): Promise<AppStatus>;

  // keys
  keysList(filter: KeyFilter, offline: boolean): Promise<Array<KeyView>>;
  keyShow(id: string): Promise<KeyView>;
  keyCreate(input: CreateKeyInput): Promise<CreatedKey>;
  keyRotate(id: string): Promise<CreatedKey>;
  keyReissue(id: string, scopes: Array<string> | null): Promise<ReissueResult>;
  keysRevoke(ids: Array<string>): Promise<RevokeSummary>;
  keyVerify(key: string): Promise<VerifyResult>;

  // directory
  apisList(): Promise<Array<Api>>;
  orgsList(search: string | null): Promise<Array<Org>>;
  usersList(search: string | null): Promise<Array<User>>;

  // doctor
  doctorKey(input: DoctorKeyInput): Promise<DoctorReport>;
  doctorConnection(input: ConnectionInput | null): Promise<DoctorReport>;

  // store: sync, history, insights, audit, migrations, export
  sync(full: boolean, onProgress: (p: SyncProgress) => void): SyncHandle;
  syncState(): Promise<SyncState>;
  keyHistory(id: string, bucket: Bucket, sinceDays: number): Promise<KeyHistory>;
  insights(days: number): Promise<Insights>;
  auditList(filter: AuditFilter): Promise<Array<AuditEntry>>;
  migrationsList(): Promise<Array<Migration>>;
  /** Opens a save dialog; resolves with the written path, or null when the user cancelled. */
  exportTo(what: ExportWhat, format: ExportFormat): Promise<string | null>;

  // clipboard (done in Rust so the webview needs no clipboard permission)
  /** Copies; Rust clears the clipboard after the returned number of seconds if it still holds `text`. */
  clipboardCopy(text: string): Promise<number>;
  /** Clears the clipboard now if it still holds what Keyward copied. */
  clipboardClear(): Promise<void>;
  /** Copies non-secret text (a key id). */
  copyText(text: string): Promise<void>;

  /** Background events: sync finished (by the timer or another window). */
  onSyncEvent(cb: (s: SyncState) => void): Promise<() => void>;
}

/** Normalizes anything thrown by the back end into `{code, message, hint}`. */
export function toCoreError(e: unknown): CoreError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: unknown; message: unknown; hint?: unknown };
    return {
      code: String(o.code) as CoreError["code"],
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
