// Temporary TypeScript shapes for IPC types that ts-rs has not generated yet.
// Each is replaced by `import type { X } from "../bindings/X"` as soon as the Rust type lands.
// Keep this the ONLY hand-written copy of a Rust type in the UI.

import type { KeyStatus } from "../bindings/KeyStatus";

export type Environment = "production" | "staging" | "development" | "test" | "demo";

export type ProfileInfo = {
  name: string;
  domain: string;
  client_id: string;
  is_default: boolean;
};

export type ProfileInput = {
  name: string;
  domain: string;
  client_id: string;
  client_secret: string;
};

export type DoctorStatus = "ok" | "fail" | "warn" | "skip";

export type DoctorStep = {
  name: string;
  ok: boolean;
  status?: DoctorStatus;
  detail: string;
};

export type DoctorReport = {
  kind: string;
  steps: Array<DoctorStep>;
  verdict: string;
  next_action: string;
};

export type DoctorKeyInput = {
  key: string;
  require_scope: string | null;
  org_code: string | null;
};

export type ConnectionInput = {
  domain: string;
  client_id: string;
  client_secret: string;
};

export type CreatedKey = { id: string; key: string };

export type ReissueResult = { old_id: string; new_id: string; key: string };

export type RevokeFailure = { id: string; error: { code: string; message: string; hint: string } };

export type RevokeSummary = { revoked: Array<string>; failed: Array<RevokeFailure> };

export type SyncProgress = {
  phase: string;
  pages_done: number;
  keys_seen: number;
  details_done: number;
  details_total: number;
};

export type SyncSummary = {
  keys: number;
  changed: number;
  duration_ms: number;
};

export type SyncState = {
  last_sync: string | null;
  running: boolean;
  offline: boolean;
  last_error: { code: string; message: string; hint: string } | null;
};

export type Bucket = "hour" | "day";

export type HistoryPoint = { at: string; verifications: number };

export type KeyHistory = { key_id: string; bucket: Bucket; points: Array<HistoryPoint> };

export type TopKey = { key_id: string; name: string; verifications: number };

export type GroupTotal = { id: string; name: string; verifications: number; keys: number };

export type Insights = {
  over_time: Array<HistoryPoint>;
  top_keys: Array<TopKey>;
  stale: Array<{ key_id: string; name: string; last_verified_on: string | null }>;
  rotation_due: Array<{ key_id: string; name: string; age_days: number }>;
  per_org: Array<GroupTotal>;
  per_api: Array<GroupTotal>;
};

export type AuditEntry = {
  id: number;
  at: string;
  profile: string;
  action: string;
  key_id: string | null;
  key_name: string | null;
  outcome: string;
  error: string | null;
  detail: string | null;
};

export type AuditFilter = {
  key_id: string | null;
  action: string | null;
  outcome: string | null;
  limit: number | null;
};

export type Migration = {
  old_key_id: string;
  old_key_name: string | null;
  new_key_id: string;
  started_at: string;
  old_verifications_since: number;
  old_last_verified_on: string | null;
  safe_to_revoke: boolean;
  old_status: KeyStatus | null;
};

export type ExportWhat = "keys" | "history" | "audit";
export type ExportFormat = "csv" | "json";

export type Settings = {
  sync_interval_secs: number;
  stale_days: number;
  rotation_days: number;
  quiet_days: number;
};

/** What the shell knows about the session: which profile or the demo is open. */
export type AppStatus = {
  mode: "welcome" | "profile" | "demo";
  profile: string | null;
  profiles: Array<ProfileInfo>;
  settings: Settings;
};
