import { describe, expect, it } from "vitest";
import { BATCH, KeyCache } from "./keycache";

type K = { id: string; name: string };
const key = (id: string, name = `name ${id}`): K => ({ id, name });

/** A store of `held` keys; every request is recorded. */
function store(held: string[]) {
  const asked: string[][] = [];
  const names = new Map(held.map((id) => [id, `name ${id}`]));
  const fetch = async (ids: string[]) => {
    asked.push(ids);
    return ids.filter((id) => names.has(id)).map((id) => key(id, names.get(id)));
  };
  return { asked, names, fetch };
}

describe("keys known by id (keys_by_ids)", () => {
  it("asks only for the ids it does not know, once, and publishes a new map", async () => {
    const s = store(["a", "b", "c"]);
    const maps: ReadonlyMap<string, K>[] = [];
    const c = new KeyCache<K>(s.fetch, (m) => maps.push(m));
    await c.need(["a", "b", "a", ""]);
    expect(s.asked).toEqual([["a", "b"]]);
    expect(c.get("a")?.name).toBe("name a");
    await c.need(["b", "c"]);
    expect(s.asked).toEqual([["a", "b"], ["c"]]);
    expect(maps.length).toBe(2);
    expect(maps[0]).not.toBe(maps[1]);
    expect(maps[1]?.size).toBe(3);
  });

  it("does not ask again for an id the store does not hold, until the keys change", async () => {
    const s = store(["a"]);
    const c = new KeyCache<K>(s.fetch, () => {});
    await c.need(["a", "gone"]);
    await c.need(["gone"]);
    expect(s.asked).toEqual([["a", "gone"]]);
    s.names.set("gone", "back");
    await c.refresh();
    // A refresh asks again for what it knows; the absent id may be asked again after it.
    expect(s.asked.at(-1)).toEqual(["a"]);
    await c.need(["gone"]);
    expect(c.get("gone")?.name).toBe("back");
  });

  it("asks in batches of at most BATCH ids, and keeps at most its cap (the oldest go)", async () => {
    const ids = Array.from({ length: BATCH + 5 }, (_, i) => `k${i}`);
    const s = store(ids);
    const c = new KeyCache<K>(s.fetch, () => {}, 100);
    await c.need(ids);
    expect(s.asked.map((a) => a.length)).toEqual([BATCH, 5]);
    expect(c.size).toBe(100);
    expect(c.get(`k${BATCH + 4}`)).toBeDefined();
    expect(c.get("k0")).toBeUndefined();
  });

  it("a refresh replaces known keys with the store's, and drops those it no longer holds", async () => {
    const s = store(["a", "b"]);
    const c = new KeyCache<K>(s.fetch, () => {});
    await c.need(["a", "b"]);
    s.names.set("a", "renamed");
    s.names.delete("b");
    await c.refresh();
    expect(c.get("a")?.name).toBe("renamed");
    expect(c.get("b")).toBeUndefined();
  });

  it("put keeps an action's answer; clear forgets, and a former session's answer is dropped", async () => {
    let release: (v: K[]) => void = () => {};
    const c = new KeyCache<K>((ids) => new Promise<K[]>((r) => (release = () => r(ids.map((id) => key(id))))), () => {});
    c.put([key("x", "fresh")]);
    expect(c.get("x")?.name).toBe("fresh");
    const pending = c.need(["y"]);
    c.clear();
    release([]);
    await pending;
    expect(c.get("y")).toBeUndefined();
    expect(c.get("x")).toBeUndefined();
  });

  it("a failed request asks again next time", async () => {
    let fail = true;
    const asked: string[][] = [];
    const c = new KeyCache<K>(async (ids) => {
      asked.push(ids);
      if (fail) throw new Error("offline");
      return ids.map((id) => key(id));
    }, () => {});
    await c.need(["a"]);
    fail = false;
    await c.need(["a"]);
    expect(asked).toEqual([["a"], ["a"]]);
    expect(c.get("a")).toBeDefined();
  });
});
