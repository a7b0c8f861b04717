import { describe, expect, it } from "vitest";
import type { KeyView } from "../bindings/KeyView";
import { areaPath, bars, labelIndices, niceMax, sparkPoints, ticks } from "./chart";
import { CLIPBOARD_CLEAR_SECS, expired, fractionLeft, remaining, startCountdown } from "./countdown";
import { guessEnvironment } from "./env";
import { compact, count, dateTime, duration, maskSecret, maskedKey, relativeTime, shortDate } from "./format";
import { emptyQuery, filterAndSort, matches, revocable, searchText, statusCounts } from "./keys";
import { scrollToReveal, visibleWindow } from "./virtual";

const NOW = Date.parse("2026-12-01T12:00:00Z");

function key(p: Partial<KeyView> & { id: string; name: string }): KeyView {
  return {
    owner_name: null,
    api_name: null,
    stale: false,
    details_owed: false,
    rotation_due: false,
    rotated_on: null,
    gone: false,
    spark_7d: [0, 0, 0, 0, 0, 0, 0],
    type: "organization",
    status: "active",
    key_prefix: "k_live",
    key_suffix: "abcd",
    created_on: null,
    last_verified_on: null,
    last_verified_ip: null,
    created_by: null,
    api_ids: [],
    scopes: [],
    verification_count: null,
    user_id: null,
    org_code: null,
    ...p,
  };
}

describe("format", () => {
  it("relative times", () => {
    expect(relativeTime(null, NOW)).toBe("never");
    expect(relativeTime("2026-12-01T11:59:50Z", NOW)).toBe("just now");
    expect(relativeTime("2026-12-01T11:55:00Z", NOW)).toBe("5 min ago");
    expect(relativeTime("2026-12-01T09:00:00Z", NOW)).toBe("3 h ago");
    expect(relativeTime("2026-11-30T12:00:00Z", NOW)).toBe("1 day ago");
    expect(relativeTime("2026-11-19T12:00:00Z", NOW)).toBe("12 days ago");
    expect(relativeTime("2026-06-01T12:00:00Z", NOW)).toBe("6 mo ago");
    expect(relativeTime("2024-12-01T12:00:00Z", NOW)).toBe("2 yrs ago");
    expect(relativeTime("2026-12-01T14:00:00Z", NOW)).toBe("in 2 h");
    expect(relativeTime("garbage", NOW)).toBe("—");
  });
  it("dates and numbers", () => {
    expect(shortDate("2026-03-04T23:59:00Z")).toBe("2026-03-04");
    expect(dateTime("2026-03-04T05:06:07Z")).toBe("2026-03-04 05:06 UTC");
    expect(shortDate(null)).toBe("—");
    expect(count(1234567)).toBe("1,234,567");
    expect(count(null)).toBe("—");
    expect(compact(999)).toBe("999");
    expect(compact(1234)).toBe("1.2k");
    expect(compact(2_000_000)).toBe("2M");
    expect(duration(820)).toBe("820 ms");
    expect(duration(3400)).toBe("3.4 s");
    expect(duration(125_000)).toBe("2 min 5 s");
  });
  it("masks keys and secrets", () => {
    expect(maskedKey("k_live", "9f3a")).toBe("k_live…9f3a");
    expect(maskedKey("k_live", null)).toBe("k_live…????");
    const s = "k_live_0123456789abcdef0123456789abcdef";
    const m = maskSecret(s);
    expect(m.startsWith("k_live_")).toBe(true);
    expect(m).not.toContain("0123");
  });
});

describe("key filters and sort", () => {
  const keys = [
    key({ id: "a", name: "Billing prod", status: "active", org_code: "org_1", api_ids: ["api1"], verification_count: 10, owner_name: "Acme", spark_7d: [1, 1, 1, 1, 1, 1, 1] }),
    key({ id: "b", name: "CI runner", status: "revoked", type: "user", user_id: "u1", api_ids: ["api2"], verification_count: 3, key_suffix: "zz99" }),
    key({ id: "c", name: "analytics", status: "inactive", org_code: "org_2", api_ids: ["api1"], stale: true, verification_count: null }),
    key({ id: "d", name: "billing staging", status: "active", org_code: "org_1", api_ids: ["api1", "api2"], rotation_due: true, verification_count: 50, last_verified_on: "2026-11-30T00:00:00Z" }),
  ];
  it("search is case-insensitive over name, prefix/suffix, owner; all terms must match", () => {
    const q = { ...emptyQuery(), search: "BILLING" };
    expect(filterAndSort(keys, q, { key: "name", dir: "asc" }).map((k) => k.id)).toEqual(["a", "d"]);
    expect(filterAndSort(keys, { ...q, search: "billing staging" }, { key: "name", dir: "asc" }).map((k) => k.id)).toEqual(["d"]);
    expect(matches(keys[1]!, { ...emptyQuery(), search: "zz99" })).toBe(true);
    expect(matches(keys[0]!, { ...emptyQuery(), search: "acme" })).toBe(true);
    expect(searchText(keys[0]!)).toContain("billing prod");
  });
  it("filters by status, type, org, user, api, flags", () => {
    const s = { key: "name" as const, dir: "asc" as const };
    expect(filterAndSort(keys, { ...emptyQuery(), status: "active" }, s).map((k) => k.id)).toEqual(["a", "d"]);
    expect(filterAndSort(keys, { ...emptyQuery(), keyType: "user" }, s).map((k) => k.id)).toEqual(["b"]);
    expect(filterAndSort(keys, { ...emptyQuery(), org: "org_1" }, s).map((k) => k.id)).toEqual(["a", "d"]);
    expect(filterAndSort(keys, { ...emptyQuery(), user: "u1" }, s).map((k) => k.id)).toEqual(["b"]);
    expect(filterAndSort(keys, { ...emptyQuery(), api: "api2" }, s).map((k) => k.id)).toEqual(["d", "b"]);
    expect(filterAndSort(keys, { ...emptyQuery(), flag: "stale" }, s).map((k) => k.id)).toEqual(["c"]);
    expect(filterAndSort(keys, { ...emptyQuery(), flag: "rotation_due" }, s).map((k) => k.id)).toEqual(["d"]);
  });
  it("sorts each way, nulls first ascending", () => {
    expect(filterAndSort(keys, emptyQuery(), { key: "verifications", dir: "desc" }).map((k) => k.id)).toEqual(["d", "a", "b", "c"]);
    expect(filterAndSort(keys, emptyQuery(), { key: "status", dir: "asc" }).map((k) => k.id)).toEqual(["a", "d", "c", "b"]);
    expect(filterAndSort(keys, emptyQuery(), { key: "last_verified", dir: "desc" })[0]!.id).toBe("d");
    expect(filterAndSort(keys, emptyQuery(), { key: "activity", dir: "desc" })[0]!.id).toBe("a");
  });
  it("counts statuses and keeps only revocable ids", () => {
    expect(statusCounts(keys)).toEqual({ active: 2, inactive: 1, revoked: 1 });
    expect(revocable(keys, new Set(["a", "b", "c"]))).toEqual(["a", "c"]);
  });
  it("filters 10,000 keys quickly enough to run per keystroke", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => key({ id: `k${i}`, name: `key number ${i}`, org_code: `org_${i % 12}` }));
    const hay = new Map(many.map((k) => [k.id, searchText(k)]));
    const out = filterAndSort(many, { ...emptyQuery(), search: "number 99", org: "org_3" }, { key: "name", dir: "asc" }, hay);
    expect(out.length).toBeGreaterThan(0);
    expect(out.every((k) => k.name.includes("number") && k.name.includes("99") && k.org_code === "org_3")).toBe(true);
  });
});

describe("virtual list", () => {
  it("renders only the visible rows plus overscan", () => {
    const w = visibleWindow(10_000, 36, 3600, 720, 5);
    expect(w.start).toBe(95);
    expect(w.end).toBe(125);
    expect(w.padTop).toBe(95 * 36);
    expect(w.padTop + (w.end - w.start) * 36 + w.padBottom).toBe(w.total);
  });
  it("clamps at both ends and handles empty lists", () => {
    expect(visibleWindow(0, 36, 100, 500)).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0, total: 0 });
    const top = visibleWindow(100, 36, -50, 360, 2);
    expect(top.start).toBe(0);
    const bottom = visibleWindow(100, 36, 1e9, 360, 2);
    expect(bottom.end).toBe(100);
    expect(bottom.padBottom).toBe(0);
  });
  it("reveals rows for keyboard navigation", () => {
    expect(scrollToReveal(0, 36, 100, 360)).toBe(0);
    expect(scrollToReveal(5, 36, 0, 360)).toBeNull();
    expect(scrollToReveal(20, 36, 0, 360)).toBe(21 * 36 - 360);
  });
});

describe("clipboard countdown", () => {
  it("counts down from 30 and expires", () => {
    const c = startCountdown(1000);
    expect(remaining(c, 1000)).toBe(CLIPBOARD_CLEAR_SECS);
    expect(remaining(c, 1999)).toBe(30);
    expect(remaining(c, 2000)).toBe(29);
    expect(expired(c, 30_999)).toBe(false);
    expect(expired(c, 31_000)).toBe(true);
    expect(remaining(c, 99_000)).toBe(0);
    expect(fractionLeft(c, 16_000)).toBeCloseTo(0.5);
    expect(remaining(null, 0)).toBeNull();
    expect(expired(null, 0)).toBe(false);
  });
});

describe("charts", () => {
  it("nice axis bounds", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(180)).toBe(200);
    expect(niceMax(230)).toBe(250);
    expect(ticks(180, 4)).toEqual([0, 50, 100, 150, 200]);
    expect(ticks(0, 4)).toEqual([0, 1]);
    expect(ticks(3, 4)).toEqual([0, 2, 4]);
    expect(ticks(7, 4).every((t) => Number.isInteger(t))).toBe(true);
    expect(ticks(7, 4).at(-1)).toBeGreaterThanOrEqual(7);
  });
  it("bars fit the plot and scale to the nice max", () => {
    const b = bars([0, 50, 100], 300, 100, 0);
    expect(b).toHaveLength(3);
    expect(b[2]!.h).toBe(100);
    expect(b[1]!.h).toBe(50);
    expect(b[0]!.h).toBe(0);
    expect(b[2]!.x + b[2]!.w).toBeLessThanOrEqual(300);
  });
  it("sparklines and areas", () => {
    const p = sparkPoints([0, 5, 10], 60, 20, 0);
    expect(p[0]).toEqual({ x: 0, y: 20 });
    expect(p[2]).toEqual({ x: 60, y: 0 });
    expect(sparkPoints([0, 0], 60, 20, 0).every((q) => q.y === 20)).toBe(true);
    expect(areaPath(p, 20)).toMatch(/^M0,20 L0,20 L30,10 L60,0 L60,20 Z$/);
    expect(labelIndices(30, 6)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(labelIndices(3, 6)).toEqual([0, 1, 2]);
  });
});

describe("environment", () => {
  it("never mistakes production for test", () => {
    expect(guessEnvironment("acme", "acme.kinde.com")).toBe("production");
    expect(guessEnvironment("acme-test", "acmetest.kinde.com")).toBe("staging");
    expect(guessEnvironment("staging", "acme-staging.kinde.com")).toBe("staging");
    expect(guessEnvironment("local", "http://127.0.0.1:8787")).toBe("development");
  });
});
