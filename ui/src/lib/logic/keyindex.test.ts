import { describe, expect, it } from "vitest";
import { KeyIndex } from "./keyindex";
import { emptyQuery, filterAndSort, searchIndex, type KeyQuery, type Sort, type SortKey } from "./keys";
import { genKeys } from "./gen";

const SORTS: Sort[] = (["name", "owner", "api", "status", "created", "last_verified", "verifications", "activity"] as SortKey[]).flatMap((k) => [
  { key: k, dir: "asc" as const },
  { key: k, dir: "desc" as const },
]);

const ids = (xs: ReadonlyArray<{ id: string }>) => xs.map((k) => k.id);

describe("KeyIndex", () => {
  const keys = genKeys(3000, 7);

  it("answers every query and sort exactly as filter-then-sort does", () => {
    const idx = new KeyIndex(keys);
    const hay = searchIndex(keys);
    const queries: KeyQuery[] = [
      emptyQuery(),
      { ...emptyQuery(), search: "billing" },
      { ...emptyQuery(), search: "BILLING prod" },
      { ...emptyQuery(), status: "revoked" },
      { ...emptyQuery(), flag: "stale", search: "e" },
      { ...emptyQuery(), org: keys[5]?.org_code ?? "" },
      { ...emptyQuery(), api: "api_3", status: "active" },
      { ...emptyQuery(), search: "no such key anywhere" },
    ];
    for (const s of SORTS) for (const q of queries) expect(ids(idx.query(q, s))).toEqual(ids(filterAndSort(keys, q, s, hay)));
  });

  it("a refined search (typing on) gives the same rows as a fresh one", () => {
    const idx = new KeyIndex(keys);
    const sort: Sort = { key: "last_verified", dir: "desc" };
    let typed = "";
    for (const ch of "payments eu") {
      typed += ch;
      const q = { ...emptyQuery(), search: typed };
      expect(ids(idx.query(q, sort))).toEqual(ids(filterAndSort(keys, q, sort)));
    }
    // Deleting characters widens the search again.
    const q = { ...emptyQuery(), search: "pay" };
    expect(ids(idx.query(q, sort))).toEqual(ids(filterAndSort(keys, q, sort)));
  });

  it("applies a sync's changed rows in place, keeping an order whose field did not change", () => {
    const idx = new KeyIndex(keys);
    const sort: Sort = { key: "name", dir: "asc" };
    idx.query(emptyQuery(), sort);
    const k0 = keys[10]!;
    const renamedNot = { ...k0, last_verified_ip: "198.18.0.1" };
    const r1 = idx.apply([renamedNot]);
    expect(r1).toEqual({ changed: 1, added: 0, reordered: false });
    expect(idx.get(k0.id)).toBe(renamedNot);
    const after = [...keys];
    after[10] = renamedNot;
    expect(ids(idx.query(emptyQuery(), sort))).toEqual(ids(filterAndSort(after, emptyQuery(), sort)));

    // A change of the sort's own field reorders; the rows still match a fresh sort.
    const renamed = { ...renamedNot, name: "aaaa first" };
    expect(idx.apply([renamed]).reordered).toBe(true);
    after[10] = renamed;
    expect(ids(idx.query(emptyQuery(), sort))[0]).toBe(k0.id);
    expect(ids(idx.query({ ...emptyQuery(), search: "aaaa" }, sort))).toEqual([k0.id]);
    expect(ids(idx.query(emptyQuery(), sort))).toEqual(ids(filterAndSort(after, emptyQuery(), sort)));

    // The same objects again change nothing; a new key is added.
    expect(idx.apply([renamed])).toEqual({ changed: 0, added: 0, reordered: false });
    const extra = { ...genKeys(1, 99)[0]!, id: "api_key_new" };
    expect(idx.apply([extra])).toEqual({ changed: 1, added: 1, reordered: true });
    expect(idx.size).toBe(keys.length + 1);
    expect(ids(idx.query(emptyQuery(), sort))).toEqual(ids(filterAndSort([...after, extra], emptyQuery(), sort)));
  });

  it("a search that refined before a change starts over after it", () => {
    const idx = new KeyIndex(keys);
    const sort: Sort = { key: "name", dir: "asc" };
    idx.query({ ...emptyQuery(), search: "zzz" }, sort);
    const k = { ...keys[3]!, name: "zzzz now found" };
    idx.apply([k]);
    expect(ids(idx.query({ ...emptyQuery(), search: "zzzz" }, sort))).toEqual([k.id]);
  });
});
