import { describe, expect, it } from "vitest";
import { COLUMNS, gridTemplate, keyTail, minTableWidth, parseHidden, shownColumns } from "./columns";

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
