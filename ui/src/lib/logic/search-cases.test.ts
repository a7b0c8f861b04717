// The table's search is the keys search rule of keyward-core (crates/keyward-core/src/keys/
// rules.rs): the same cases, from the same file, pin both.
import { describe, expect, it } from "vitest";
import type { KeyView } from "../bindings/KeyView";
import cases from "../../../../crates/keyward-core/src/keys/search_cases.json";
import { emptyQuery, filterKeys, matches } from "./keys";

// The key the Rust test searches (keys::rules::tests::view).
const key: KeyView = {
  id: "api_key_0a1b2c",
  name: "Billing reconciler",
  type: "organization",
  status: "active",
  key_prefix: "k_live_Ab",
  key_suffix: "wXyZ",
  created_on: null,
  last_verified_on: null,
  last_verified_ip: null,
  created_by: null,
  api_ids: ["api_1"],
  scopes: [],
  verification_count: null,
  user_id: null,
  org_code: "org_acme",
  owner_name: "Acme Corp",
  api_name: "Billing API",
  stale: false,
  rotation_due: false,
  rotated_on: null,
  gone: false,
  details_owed: false,
  spark_7d: [],
};

describe("the shared search cases", () => {
  it("has enough cases to mean something", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });
  for (const c of cases) {
    it(`${JSON.stringify(c.query)}: ${c.why}`, () => {
      const q = { ...emptyQuery(), search: c.query };
      expect(matches(key, q)).toBe(c.matches);
      expect(filterKeys([key], q).length).toBe(c.matches ? 1 : 0);
    });
  }
});
