import { describe, expect, it } from "vitest";
import { genKeys } from "./gen";
import { keyItem, paletteTerms, rankItems, rankWithKeys, scoreItem, scoreTerm, searchable, type PaletteItem } from "./palette";

const item = (title: string, kind: PaletteItem["kind"] = "action", detail?: string): PaletteItem => ({
  id: `${kind}:${title}`,
  kind,
  title,
  ...(detail ? { detail } : {}),
});
const titles = (xs: ReadonlyArray<{ item: PaletteItem }>) => xs.map((x) => x.item.title);

describe("palette matcher", () => {
  it("splits the query into lower-case terms", () => {
    expect(paletteTerms("  Sync   NOW ")).toEqual(["sync", "now"]);
    expect(paletteTerms("   ")).toEqual([]);
  });

  it("matches letters in order, and only in order", () => {
    expect(scoreTerm("bw", "billing worker")).toBeGreaterThan(0);
    expect(scoreTerm("wb", "billing worker")).toBe(-1);
    expect(scoreTerm("xyz", "billing worker")).toBe(-1);
    expect(scoreTerm("billing worker!", "billing worker")).toBe(-1);
  });

  it("ranks a prefix over a word start over a substring over a scattered match", () => {
    const prefix = scoreTerm("set", "settings");
    const word = scoreTerm("set", "reset settings");
    const inner = scoreTerm("set", "asset");
    const scattered = scoreTerm("set", "sync everything");
    expect(prefix).toBeGreaterThan(word);
    expect(word).toBeGreaterThan(inner);
    expect(inner).toBeGreaterThan(scattered);
    expect(scattered).toBeGreaterThan(0);
  });

  it("prefers word starts for a scattered match (initials)", () => {
    // "kd": Key Doctor's initials beat a k and a d buried inside words.
    expect(scoreTerm("kd", "key doctor")).toBeGreaterThan(scoreTerm("kd", "bookkeeping ledger"));
    // The greedy first "d" of "key dd doctor" is not a word start; the matcher still finds one.
    expect(scoreTerm("kdo", "key adds doctor")).toBeGreaterThan(scoreTerm("kdo", "key addsdoctor"));
  });

  it("needs every term, in the title or the detail; a title match weighs more", () => {
    const a = searchable(item("Billing worker", "key", "k_live…ab12 · Acme Corp"));
    expect(scoreItem(a, ["billing", "acme"])).toBeGreaterThan(0);
    expect(scoreItem(a, ["billing", "globex"])).toBe(-1);
    const inTitle = searchable(item("Acme", "org", "org_1"));
    const inDetail = searchable(item("Worker", "key", "acme"));
    expect(scoreItem(inTitle, ["acme"])).toBeGreaterThan(scoreItem(inDetail, ["acme"]));
  });

  it("ranks items best first, screens and actions before keys on a tie", () => {
    const items = [
      item("Sync status report", "key"),
      item("Insights", "screen"),
      item("Sync now", "action"),
      item("Sync", "key"),
    ].map(searchable);
    const got = titles(rankItems([items], "sync"));
    // The exact title first, then the prefix matches, the shorter before the longer.
    expect(got[0]).toBe("Sync");
    expect(got.slice(1)).toEqual(["Sync now", "Sync status report"]);
    expect(got).not.toContain("Insights");
    expect(titles(rankItems([items], "ins"))).toEqual(["Insights"]);
  });

  it("breaks a tie by kind: an action before a key of the same name", () => {
    const items = [item("Settings", "key"), item("Settings", "screen")].map(searchable);
    expect(rankItems([items], "settings").map((r) => r.item.kind)).toEqual(["screen", "key"]);
  });

  it("an empty query keeps the given order, capped", () => {
    const items = ["a", "b", "c"].map((t) => searchable(item(t)));
    expect(titles(rankItems([items], "  ", 2))).toEqual(["a", "b"]);
    expect(rankItems([items], "a", 0)).toEqual([]);
  });

  it("caps the results and keeps the best ones, in order", () => {
    const items = Array.from({ length: 500 }, (_, i) => searchable(item(i === 321 ? "alpha" : `xx alpha ${i}`, "key")));
    const got = rankItems([items], "alpha", 10);
    expect(got).toHaveLength(10);
    expect(got[0]?.item.title).toBe("alpha");
    for (let i = 1; i < got.length; i++) expect(got[i - 1]!.score).toBeGreaterThanOrEqual(got[i]!.score);
  });

  it("a key is found by name, prefix…suffix, owner and API", () => {
    const k = keyItem({ id: "api_key_1", name: "Billing worker", key_prefix: "k_live_ab", key_suffix: "9xq2", api_name: "Invoices", status: "revoked" }, "Acme Corp");
    expect(k.detail).toBe("k_live_ab…9xq2 · Acme Corp · Invoices · revoked");
    const s = [[searchable(k)]];
    for (const q of ["billing", "9xq2", "acme", "invoices", "bill acme", "k_live_ab"]) expect(rankItems(s, q)).toHaveLength(1);
    expect(rankItems(s, "globex")).toHaveLength(0);
  });
});

describe("palette at 10,000 keys", () => {
  const keys = genKeys(10_000);
  const items = keys.map((k) => searchable(keyItem(k, k.owner_name ?? k.org_code ?? "")));

  it("answers a keystroke in a few milliseconds, capped at 50", () => {
    // Warm up the JIT, then take the median of several queries.
    for (const q of ["b", "bi", "bil"]) rankItems([items], q);
    const times: number[] = [];
    let n = 0;
    for (const q of ["b", "bil", "billing", "billing prod", "zq", "pay eu", "k_live", "ledger sync"]) {
      const t0 = performance.now();
      const r = rankItems([items], q, 50);
      times.push(performance.now() - t0);
      expect(r.length).toBeLessThanOrEqual(50);
      n += r.length;
    }
    expect(n).toBeGreaterThan(0);
    times.sort((a, b) => a - b);
    // Generous for a loaded 2-core CI machine; a typical run is a few ms.
    expect(times[Math.floor(times.length / 2)]).toBeLessThan(50);
  });

  it("finds one key among 10,000 by its suffix", () => {
    const target = keys[7777]!;
    const r = rankItems([items], `${target.key_suffix}`, 50);
    expect(r.some((x) => (x.item as { keyId?: string }).keyId === target.id)).toBe(true);
  });
});

describe("palette with the keys the store found (keys_window)", () => {
  const actions = [item("Sync now"), item("Create key"), item("Key doctor", "screen")].map((x) => searchable(x));
  const orgs = [searchable(item("Acme Corp", "org", "org_acme · organization: show its keys"))];
  const key = (id: string, name: string, detail: string) => searchable(item(name, "key", detail));

  it("ranks the store's keys with the screens, actions and orgs by the same matcher", () => {
    const found = [key("1", "Acme billing", "k_live…ab12 · Acme Corp"), key("2", "Payments", "k_live…cd34 · Acme Corp")];
    const r = rankWithKeys([actions, orgs], found, "acme", 40);
    expect(r[0]?.item.kind).toBe("org");
    expect(titles(r)).toEqual(["Acme Corp", "Acme billing", "Payments"]);
    const s = rankWithKeys([actions, orgs], [key("3", "Sync worker", "k_live…ef56")], "sync", 40);
    expect(titles(s)).toEqual(["Sync now", "Sync worker"]);
  });

  it("keeps a key the store matched on a field the palette does not show, last, in the store's order", () => {
    // The store matched these by their ids: the palette's matcher finds nothing in the title.
    const found = [key("a", "Ledger", "k_live…0001"), key("b", "Mailer", "k_live…0002")];
    const r = rankWithKeys([actions], found, "api_key_7", 40);
    expect(titles(r)).toEqual(["Ledger", "Mailer"]);
    expect(r.every((x) => x.score === 0)).toBe(true);
  });

  it("while the new query's keys are on their way, only the old keys that still match stay", () => {
    const old = [key("1", "Billing EU", "k_live…0001"), key("2", "Bigquery", "k_live…0002")];
    expect(titles(rankWithKeys([[]], old, "bill", 40, false))).toEqual(["Billing EU"]);
    expect(titles(rankWithKeys([[]], old, "bill", 40, true))).toEqual(["Billing EU", "Bigquery"]);
  });

  it("an empty query lists the palette's own items only, and the cap holds", () => {
    const found = [key("1", "Key one", "")];
    expect(rankWithKeys([actions], found, "  ", 40).map((x) => x.item.kind)).not.toContain("key");
    const many = Array.from({ length: 30 }, (_, i) => key(String(i), `Sync ${i}`, ""));
    expect(rankWithKeys([actions], many, "sync", 10)).toHaveLength(10);
  });
});
