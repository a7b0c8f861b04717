// Pure formatting helpers (unit-tested; no DOM, no Tauri).

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 h ago", "12 days ago", "in 2 h"; "never" for null. */
export function relativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const diff = now - t;
  const future = diff < 0;
  const d = Math.abs(diff);
  let text: string;
  if (d < 45_000) return "just now";
  else if (d < HOUR) text = `${Math.max(1, Math.round(d / MINUTE))} min`;
  else if (d < DAY) text = `${Math.round(d / HOUR)} h`;
  else if (d < 60 * DAY) {
    const n = Math.round(d / DAY);
    text = `${n} ${n === 1 ? "day" : "days"}`;
  } else if (d < 365 * DAY) text = `${Math.round(d / (30 * DAY))} mo`;
  else {
    const n = Math.round((d / (365 * DAY)) * 10) / 10;
    text = `${n} ${n === 1 ? "yr" : "yrs"}`;
  }
  return future ? `in ${text}` : `${text} ago`;
}

/** 2026-12-01 (UTC calendar date) or "—". */
export function shortDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  return new Date(t).toISOString().slice(0, 10);
}

/** 2026-12-01 14:03 UTC or "—". */
export function dateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "—";
  const s = new Date(t).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 16)} UTC`;
}

// One formatter for every count (the table formats one per visible row on each scroll frame).
const INTEGER = new Intl.NumberFormat("en-US");

/** 1234567 -> "1,234,567"; null -> "—". */
export function count(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return INTEGER.format(Math.round(n));
}

/** 1234 -> "1.2k", 2_500_000 -> "2.5M" for tight spaces. */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n));
  if (a < 1_000_000) return `${trim1(n / 1000)}k`;
  return `${trim1(n / 1_000_000)}M`;
}

function trim1(x: number): string {
  const s = x.toFixed(1);
  return s.endsWith(".0") ? s.slice(0, -2) : s;
}

/** Kinde shows a key as its first 6 and last 4 characters: "k_live…9f3a". */
export function maskedKey(prefix: string, suffix: string | null): string {
  return `${prefix}…${suffix ?? "????"}`;
}

/** A secret masked for display: keeps the first 7 characters ("k_live_"), dots the rest. */
export function maskSecret(secret: string): string {
  const head = secret.slice(0, 7);
  return head + "•".repeat(Math.max(8, Math.min(32, secret.length - 7)));
}

/** Cleans a pasted key for display purposes only (the doctor reports what it finds itself). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Duration in ms -> "820 ms", "3.4 s", "2 min 5 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${trim1(ms / 1000)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${s} s`;
}

/** 512 -> "512 B", 1536 -> "1.5 KiB", 3 GiB -> "3 GiB". */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${Math.round(v)} B` : `${trim1(v)} ${units[i]}`;
}
