import { describe, expect, it } from "vitest";
import { RESIZE_STEP } from "./columns";
import { SHORTCUTS, chord } from "./shortcuts";

const all = SHORTCUTS.flatMap((g) => g.items.map((s) => ({ group: g.group, ...s })));

describe("the shortcuts list", () => {
  it("splits a chord, and leaves a single key (even +) whole", () => {
    expect(chord("Alt+←")).toEqual(["Alt", "←"]);
    expect(chord("Esc")).toEqual(["Esc"]);
    expect(chord("+")).toEqual(["+"]);
  });

  it("lists the way back from a key: Esc, Backspace and Alt+Left", () => {
    const back = all.find((s) => s.group === "A key's page");
    expect(back?.keys).toEqual(["Esc", "Backspace", "Alt+←"]);
    expect(back?.or).toBe(true);
  });

  it("lists ArrowDown from the search, and the column resize keys with their step", () => {
    expect(all.some((s) => s.keys.join() === "↓" && /search into the list/.test(s.what))).toBe(true);
    const resize = all.find((s) => s.group === "Keys table columns" && s.keys.includes("→"));
    expect(resize?.what).toContain(`${RESIZE_STEP} px`);
    expect(all.some((s) => s.group === "Keys table columns" && /default width/.test(s.what))).toBe(true);
  });

  it("names each shortcut once per group", () => {
    for (const g of SHORTCUTS) expect(new Set(g.items.map((s) => s.what)).size).toBe(g.items.length);
  });
});
