// Generated keys for tests and benchmarks of the keys table at 10,000 and 100,000 keys.
import type { KeyView } from "../bindings/KeyView";

const WORDS = ["billing", "payments", "reports", "search", "ingest", "export", "webhook", "mobile", "partner", "internal", "analytics", "sync", "backup", "ledger", "audit"];
const ENVS = ["prod", "staging", "dev", "eu-west", "us-east", "ap-south"];
const ORGS = Array.from({ length: 400 }, (_, i) => `org_${(i * 7919).toString(16).padStart(8, "0")}`);

/** A deterministic pseudo-random stream (xorshift), so that every run sees the same keys. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

export function genKeys(n: number, seed = 42): KeyView[] {
  const r = rng(seed);
  const pick = <T,>(xs: ReadonlyArray<T>): T => xs[Math.floor(r() * xs.length)] as T;
  const base = Date.parse("2026-01-01T00:00:00Z");
  const out: KeyView[] = [];
  for (let i = 0; i < n; i++) {
    const org = pick(ORGS);
    const created = new Date(base + Math.floor(r() * 300) * 86_400_000).toISOString().replace(".000Z", "Z");
    const verified = r() < 0.8 ? new Date(base + Math.floor(r() * 340 * 86_400) * 1000).toISOString().replace(".000Z", "Z") : null;
    const suffix = Math.floor(r() * 1679616).toString(36).padStart(4, "0");
    out.push({
      id: `api_key_${i.toString(16).padStart(12, "0")}`,
      name: `${pick(WORDS)} ${pick(WORDS)} (${pick(ENVS)}) ${i}`,
      type: "organization",
      status: r() < 0.85 ? "active" : r() < 0.5 ? "inactive" : "revoked",
      key_prefix: "k_live",
      key_suffix: suffix,
      api_ids: [`api_${Math.floor(r() * 5)}`],
      scopes: ["read:reports"],
      created_on: created,
      created_by: null,
      last_verified_on: verified,
      last_verified_ip: verified ? `203.0.113.${Math.floor(r() * 250)}` : null,
      verification_count: verified ? Math.floor(r() * 100_000) : 0,
      org_code: org,
      user_id: null,
      owner_name: `Org ${org.slice(4, 8)}`,
      api_name: `API ${Math.floor(r() * 5)}`,
      stale: r() < 0.1,
      rotation_due: r() < 0.1,
      rotated_on: null,
      gone: false,
      details_owed: false,
      spark_7d: [0, 1, 2, 3, 4, 5, 6].map(() => Math.floor(r() * 50)),
    });
  }
  return out;
}
