import { describe, expect, it } from "vitest";
import type { KeyView } from "../bindings/KeyView";
import { sparkShape, areaPath, pointsAttr, sparkPoints } from "./chart";
import { emptyQuery, filterAndSort, filterKeys, revocable, searchIndex, searchTerms, searchText, sortKeys, type Sort } from "./keys";

function key(p: Partial<KeyView> & { id: string; name: string }): KeyView {
  return {
    owner_name: null, api_name: null, stale: false, rotation_due: false, rotated_on: null, gone: false, details_owed: false,
    spark_7d: [0, 0, 0, 0, 0, 0, 0], type: "organization", status: "active", key_prefix: "k_live", key_suffix: "abcd",
    created_on: null, last_verified_on: null, last_verified_ip: null, created_by: null, api_ids: [], scopes: [],
    verification_count: null, user_id: null, org_code: null, ...p,
  };
}

describe("search index, sort once, filter the sorted list", () => {
  const keys = [
    key({ id: "a", name: "Billing prod", owner_name: "Acme", verification_count: 10 }),
    key({ id: "b", name: "CI runner", status: "revoked", key_suffix: "zz99", verification_count: 3 }),
    key({ id: "c", name: "analytics", status: "inactive", stale: true }),
    key({ id: "d", name: "billing staging", api_name: "Payments", verification_count: 50 }),
  ];

  it("splits the search into lower-case terms once", () => {
    expect(searchTerms("  Billing   STAGING ")).toEqual(["billing", "staging"]);
    expect(searchTerms("   ")).toEqual([]);
  });

  it("indexes each key's haystack by id", () => {
    const idx = searchIndex(keys);
    expect(idx.size).toBe(4);
    expect(idx.get("b")).toBe(searchText(keys[1]!));
  });

  it("returns the same array when nothing filters, and keeps the sorted order when filtering", () => {
    const sorted = sortKeys(keys, { key: "verifications", dir: "desc" });
    expect(sorted.map((k) => k.id)).toEqual(["d", "a", "b", "c"]);
    expect(filterKeys(sorted, emptyQuery())).toBe(sorted);
    expect(filterKeys(sorted, { ...emptyQuery(), search: "   " })).toBe(sorted);
    const hay = searchIndex(keys);
    expect(filterKeys(sorted, { ...emptyQuery(), search: "billing" }, hay).map((k) => k.id)).toEqual(["d", "a"]);
    expect(filterKeys(sorted, { ...emptyQuery(), search: "PAYMENTS bill" }, hay).map((k) => k.id)).toEqual(["d"]);
    expect(filterKeys(sorted, { ...emptyQuery(), search: "zz99", status: "revoked" }, hay).map((k) => k.id)).toEqual(["b"]);
    expect(filterKeys(sorted, { ...emptyQuery(), search: "zz99", status: "active" }, hay)).toEqual([]);
  });

  it("sorting then filtering equals filtering then sorting, for every sort", () => {
    const hay = searchIndex(keys);
    const sorts: Sort[] = (["name", "owner", "api", "status", "created", "last_verified", "verifications", "activity"] as const).flatMap(
      (k) => [{ key: k, dir: "asc" as const }, { key: k, dir: "desc" as const }],
    );
    for (const s of sorts) {
      for (const q of [emptyQuery(), { ...emptyQuery(), search: "i" }, { ...emptyQuery(), status: "active" as const }]) {
        expect(filterKeys(sortKeys(keys, s), q, hay).map((k) => k.id)).toEqual(filterAndSort(keys, q, s).map((k) => k.id));
      }
    }
    expect(sortKeys(keys, sorts[0]!)).not.toBe(keys);
  });

  it("nothing is revocable without a selection", () => {
    expect(revocable(keys, new Set())).toEqual([]);
    expect(revocable(keys, new Set(["a", "b"]))).toEqual(["a"]);
  });
});

describe("sparkline shapes", () => {
  it("match the unmemoized paths and are reused for the same array and box", () => {
    const v = [0, 2, 5, 1, 0, 3, 4];
    const s = sparkShape(v, 62, 20);
    const pts = sparkPoints(v, 62, 20);
    expect(s).toEqual({ total: 15, area: areaPath(pts, 20), line: pointsAttr(pts) });
    expect(sparkShape(v, 62, 20)).toBe(s);
    expect(sparkShape(v, 72, 20)).not.toBe(s);
    expect(sparkShape([...v], 62, 20)).not.toBe(s);
    expect(sparkShape([0, 0, 0], 62, 20).total).toBe(0);
  });
});

