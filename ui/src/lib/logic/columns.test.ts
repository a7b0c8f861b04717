import { describe, expect, it } from "vitest";
import {
  COLUMNS,
  MAX_WIDTH,
  fitColumns,
  gridTemplate,
  keyTail,
  minTableWidth,
  parseHidden,
  parseWidths,
  resized,
  serializeWidths,
  shownColumns,
  trackWidths,
  widthOf,
} from "./columns";

const col = (id: string) => {
  const c = COLUMNS.find((x) => x.id === id);
  if (!c) throw new Error(id);
  return c;
};

describe("keys table columns", () => {
  it("hides only what may be hidden", () => {
    const hidden = parseHidden(JSON.stringify(["scopes", "name", "nonsense", "created"]));
    expect([...hidden].sort()).toEqual(["created", "scopes"]);
    const shown = shownColumns(hidden).map((c) => c.id);
    expect(shown).not.toContain("scopes");
    expect(shown).toContain("name");
    expect(shown.length).toBe(COLUMNS.length - 2);
  });

  it("reads a broken or missing saved value as nothing hidden", () => {
    expect(parseHidden(null).size).toBe(0);
    expect(parseHidden("{").size).toBe(0);
    expect(parseHidden('"scopes"').size).toBe(0);
  });

  it("lays out the checkbox and each shown column, and knows when to scroll", () => {
    const cols = shownColumns(new Set());
    expect(gridTemplate(cols).split(/ (?![^(]*\))/).length).toBe(cols.length + 1);
    expect(minTableWidth(cols)).toBe(34 + cols.reduce((w, c) => w + c.min, 0));
    expect(minTableWidth(shownColumns(new Set(["scopes"])))).toBeLessThan(minTableWidth(cols));
  });

  it("shows the part of a key that differs", () => {
    expect(keyTail("4W87")).toBe("…4W87");
    expect(keyTail(null)).toBe("…????");
  });
});

describe("resized columns", () => {
  it("gives a resized column its width, between its minimum and the maximum", () => {
    let w = resized({}, "owner", 240.4);
    expect(w.owner).toBe(240);
    expect(widthOf(col("owner"), w)).toBe(240);
    w = resized(w, "owner", 3);
    expect(w.owner).toBe(col("owner").min);
    w = resized(w, "owner", 99_999);
    expect(w.owner).toBe(MAX_WIDTH);
    // Reset (a double-click): back to the default, and the other widths kept.
    w = resized(resized(w, "api", 150), "owner", null);
    expect(w).toEqual({ api: 150 });
  });

  it("lays a resized column out at its width, the others as before", () => {
    const cols = shownColumns(new Set());
    const parts = gridTemplate(cols, { name: 300, status: 120 }).split(/ (?![^(]*\))/);
    expect(parts[1 + cols.findIndex((c) => c.id === "name")]).toBe("300px");
    expect(parts[1 + cols.findIndex((c) => c.id === "status")]).toBe("120px");
    expect(parts[1 + cols.findIndex((c) => c.id === "owner")]).toBe(`minmax(${col("owner").min}px, ${col("owner").grow}fr)`);
    // A column made wider raises the width under which the table scrolls, by as much.
    expect(minTableWidth(cols, { name: col("name").min + 100 })).toBe(minTableWidth(cols) + 100);
  });

  it("keeps saved widths that make sense and drops the rest", () => {
    const w = parseWidths(JSON.stringify({ owner: 200, api: "wide", nonsense: 50, scopes: 10, created: 5000 }));
    expect(w).toEqual({ owner: 200, scopes: col("scopes").min, created: MAX_WIDTH });
    expect(parseWidths(null)).toEqual({});
    expect(parseWidths("[1,2]")).toEqual({});
    expect(parseWidths("{")).toEqual({});
    expect(parseWidths(serializeWidths({ name: 260 }))).toEqual({ name: 260 });
    expect(serializeWidths({})).toBeNull();
  });
});

describe("hiding by priority to fit", () => {
  const all = shownColumns(new Set());
  const full = minTableWidth(all);

  it("hides nothing when everything fits, or before the width is known", () => {
    expect(fitColumns(all, full).fitHidden).toEqual([]);
    expect(fitColumns(all, full + 500).shown.length).toBe(all.length);
    expect(fitColumns(all, 0).fitHidden).toEqual([]);
  });

  it("hides the lowest priority first, the rightmost of a priority first, only as many as needed", () => {
    // One pixel short: the rightmost priority-3 column goes.
    const one = fitColumns(all, full - 1);
    expect(one.fitHidden).toEqual(["verifications"]);
    expect(minTableWidth(one.shown)).toBeLessThanOrEqual(full - 1);
    // Short of more than that column: the next priority-3 one, before any priority 2.
    const two = fitColumns(all, full - col("verifications").min - 1);
    expect(two.fitHidden).toEqual(["verifications", "created"]);
    const more = fitColumns(all, full - col("verifications").min - col("created").min - 1);
    expect(more.fitHidden.slice(0, 2)).toEqual(["verifications", "created"]);
    expect(more.fitHidden.length).toBe(3);
    expect(col(more.fitHidden[2] ?? "").priority).toBe(2);
    // The order of the columns shown is kept.
    const order = all.map((c) => c.id).filter((id) => !more.fitHidden.includes(id));
    expect(more.shown.map((c) => c.id)).toEqual(order);
  });

  it("never hides a column that must stay, and scrolls when those alone do not fit", () => {
    const r = fitColumns(all, 100);
    expect(r.shown.every((c) => c.priority === 1)).toBe(true);
    expect(r.shown.map((c) => c.id)).toEqual(["name", "status", "last_verified"]);
    expect(minTableWidth(r.shown)).toBeGreaterThan(100);
  });

  it("counts a resized column at its width, and leaves columns the user hid out of it", () => {
    const wide = fitColumns(all, full, { name: col("name").min + 50 });
    expect(wide.fitHidden).toEqual(["verifications"]);
    const chosen = shownColumns(new Set(["verifications"]));
    const r = fitColumns(chosen, full - 1);
    expect(r.fitHidden).toEqual([]);
  });

  it("at 1024 px (a collapsed sidebar) keeps the scopes and hides the counts and dates", () => {
    // 1024 - 65 (sidebar) - 48 (padding) - 2 (border): the table's width in the app.
    const r = fitColumns(all, 909);
    expect(r.fitHidden).toEqual(["verifications", "created"]);
    expect(r.shown.map((c) => c.id)).toContain("scopes");
  });
});

describe("the columns' widths as laid out", () => {
  const all = shownColumns(new Set());
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

  it("fills the table: the flexible columns share what the fixed ones leave, by their share", () => {
    const t = trackWidths(all, 1170);
    expect(34 + sum(t)).toBeCloseTo(1170, 6);
    // The numbers the app's grid gave at 1170 px (WebKit's computed template, in 1/64 px).
    expect(t.get("name")).toBeCloseTo(291.8125, 1);
    expect(t.get("owner")).toBeCloseTo(145.90625, 1);
    expect(t.get("api")).toBeCloseTo(116.734375, 1);
    expect(t.get("scopes")).toBeCloseTo(87.546875, 1);
    expect(t.get("status")).toBe(84);
  });

  it("holds a column at its minimum when its share is smaller, and gives the rest to the others", () => {
    const t = trackWidths(all, 1010);
    // 1010: the name gets 200 (2 shares of what the others' minimums leave), owner and API their minimum.
    expect(t.get("owner")).toBe(110);
    expect(t.get("api")).toBe(92);
    expect(t.get("scopes")).toBe(80);
    expect(t.get("name")).toBeCloseTo(200, 6);
    expect(trackWidths(all, 0).get("name")).toBe(col("name").min);
  });

  it("gives a resized column its width; the others give way down to their minimums, then it scrolls", () => {
    const t = trackWidths(all, 1170, { owner: 200 });
    expect(t.get("owner")).toBe(200);
    expect(t.get("scopes")).toBe(80);
    expect(34 + sum(t)).toBeCloseTo(1170, 6);
    const wide = trackWidths(all, 1170, { owner: 300 });
    expect(34 + sum(wide)).toBe(minTableWidth(all, { owner: 300 }));
    expect(minTableWidth(all, { owner: 300 })).toBeGreaterThan(1170);
  });
});
