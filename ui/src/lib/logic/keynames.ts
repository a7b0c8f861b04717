// Which keys a screen names, so that it asks the store for those keys alone (`keys_by_ids`).

/** At most this many ids from one screen's rows (the cache keeps more than this). */
export const MAX_NAMED = 3000;

type AuditLike = { key_id: string | null; details: unknown };

/** The keys the audit rows name: each row's key, and the new or old key of a re-issue in its
 * details. Each id once, in row order, at most `MAX_NAMED`. */
export function auditKeyIds(rows: ReadonlyArray<AuditLike>, max = MAX_NAMED): string[] {
  const out = new Set<string>();
  for (const r of rows) {
    if (out.size >= max) break;
    if (r.key_id) out.add(r.key_id);
    const d = r.details;
    if (d && typeof d === "object") {
      for (const f of ["new_id", "old_id"]) {
        const v = (d as Record<string, unknown>)[f];
        if (typeof v === "string" && v !== "" && out.size < max) out.add(v);
      }
    }
  }
  return [...out].slice(0, max);
}

/** The insights chart's 7 daily totals (oldest first), zeros until the store answered. */
export function sevenDays(perDay: ReadonlyArray<number> | null | undefined): number[] {
  const out = [0, 0, 0, 0, 0, 0, 0];
  if (!perDay) return out;
  // The last 7 the store gave, aligned on today (the last one).
  const tail = perDay.slice(-7);
  tail.forEach((v, i) => (out[7 - tail.length + i] = v));
  return out;
}

type Masked = { key_prefix: string; key_suffix: string | null };

/** The one key whose prefix and suffix a pasted secret has (`null` when none or several). */
export function pastedMatch<K extends Masked>(candidates: ReadonlyArray<K>, bare: string): K | null {
  if (bare.length <= 10) return null;
  const found = candidates.filter((k) => !!k.key_suffix && bare.startsWith(k.key_prefix) && bare.endsWith(k.key_suffix));
  return found.length === 1 ? (found[0] ?? null) : null;
}
