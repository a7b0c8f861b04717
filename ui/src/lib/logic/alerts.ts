// Pure helpers of the watchtower screens: words for kinds and severities, the per-key badge
// index, and the evidence shown as short facts. No Svelte, no back end (tested in vitest).
import type { Alert, AlertKind, Severity } from "../backend/ipc-types";

export const KINDS: ReadonlyArray<{ kind: AlertKind; label: string; help: string }> = [
  { kind: "canary_tripped", label: "Canary tripped", help: "A key marked as a canary was verified: someone has its secret." },
  { kind: "new_ip", label: "New IP", help: "A key was verified from an address never seen for it." },
  { kind: "drift", label: "Changed outside Keyward", help: "Created, rotated or revoked in the Kinde dashboard, the portal or the API." },
  { kind: "spike", label: "Spike", help: "Verifications per hour far above the key's baseline." },
  { kind: "dormant_wakes", label: "Dormant key woke", help: "A verification after a long quiet time." },
  { kind: "expiry_coming", label: "Expiry", help: "A key nears or passed its expiry date or maximum age." },
  { kind: "rotation_due", label: "Rotation due", help: "A key is older than the profile's maximum age." },
  { kind: "stale", label: "Stale", help: "No verification for the profile's stale period." },
];

/** Standing conditions from the policy (the rest are events: something happened to a key). */
export const POLICY_KINDS: ReadonlySet<AlertKind> = new Set<AlertKind>(["stale", "rotation_due", "expiry_coming"]);

const KIND_LABEL: Record<AlertKind, string> = Object.fromEntries(KINDS.map((k) => [k.kind, k.label])) as Record<AlertKind, string>;

export function kindLabel(k: AlertKind): string {
  return KIND_LABEL[k] ?? k;
}

export const SEVERITIES: ReadonlyArray<Severity> = ["critical", "high", "medium", "low", "info"];

const RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

export function severityRank(s: Severity): number {
  return RANK[s] ?? 0;
}

/** The badge colour class of a severity (app.css badge variants). */
export function severityClass(s: Severity): string {
  switch (s) {
    case "critical":
      return "red solid";
    case "high":
      return "red";
    case "medium":
      return "amber";
    case "low":
      return "blue";
    default:
      return "";
  }
}

/** Kinds whose answer is an action on the key: rotate, re-issue or revoke (never automatic). */
export function offersAction(k: AlertKind): boolean {
  return k === "expiry_coming" || k === "rotation_due" || k === "stale" || k === "canary_tripped" || k === "new_ip";
}

export type KeyAlerts = { count: number; worst: Severity; kinds: AlertKind[] };

/** Open alerts per key, for the keys table's badges and the key detail. One pass, O(alerts). */
export function alertsByKey(alerts: ReadonlyArray<Alert>): Map<string, KeyAlerts> {
  const out = new Map<string, KeyAlerts>();
  for (const a of alerts) {
    if (!a.key_id || a.acknowledged_at || a.muted) continue;
    const cur = out.get(a.key_id);
    if (!cur) {
      out.set(a.key_id, { count: 1, worst: a.severity, kinds: [a.kind] });
    } else {
      cur.count += 1;
      if (severityRank(a.severity) > severityRank(cur.worst)) cur.worst = a.severity;
      if (!cur.kinds.includes(a.kind)) cur.kinds.push(a.kind);
    }
  }
  return out;
}

/** The evidence as a few "label: value" facts (the raw JSON stays one click away). */
export function evidenceFacts(a: Pick<Alert, "kind" | "evidence">): string[] {
  const e = a.evidence ?? {};
  const facts: string[] = [];
  const add = (label: string, v: unknown) => {
    if (v === null || v === undefined || v === "") return;
    facts.push(`${label}: ${Array.isArray(v) ? v.join(", ") : String(v)}`);
  };
  switch (a.kind) {
    case "new_ip":
      add("IP", e["ip"]);
      add("known", e["known_ips"]);
      break;
    case "canary_tripped":
      add("from", e["ip"]);
      add("verifications", e["verifications"]);
      break;
    case "dormant_wakes":
      add("quiet days", e["quiet_days"]);
      add("from", e["ip"]);
      break;
    case "spike":
      add("per hour", e["per_hour"]);
      add("baseline", e["baseline_per_hour"]);
      add("in window", e["verifications"]);
      break;
    case "drift":
      add("change", e["change"]);
      add("by", e["created_by"]);
      if (e["previous_suffix"]) add("suffix", `${String(e["previous_suffix"])} → ${String(e["key_suffix"] ?? "")}`);
      break;
    case "stale":
      add("idle days", e["idle_days"]);
      break;
    case "rotation_due":
    case "expiry_coming":
      add("expires", typeof e["expires_on"] === "string" ? String(e["expires_on"]).slice(0, 10) : e["expires_on"]);
      add("age days", e["age_days"]);
      add("due", typeof e["due_on"] === "string" ? String(e["due_on"]).slice(0, 10) : e["due_on"]);
      break;
  }
  return facts;
}

/** "2026-12-31" from an ISO time (the date input's value), or "" for none. */
export function dateInputValue(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 10) : "";
}

/** The end of the given local date as an ISO time (a key "expires on" a day, not an instant). */
export function endOfDayIso(date: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date.trim());
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
