// The keys table's window requests (logic/keys.ts): the query the core's keys_window takes, and
// the pages asked for around the rows on screen.
import { describe, expect, it } from "vitest";
import { emptyQuery, pageSpan, screenSpan, windowQuery } from "./keys";

describe("windowQuery", () => {
  it("sends no filter for the empty query, the sort as it is", () => {
    expect(windowQuery(emptyQuery(), { key: "last_verified", dir: "desc" })).toEqual({
      search: null,
      status: null,
      key_type: null,
      org_code: null,
      user_id: null,
      api_id: null,
      flag: null,
      sort: "last_verified",
      dir: "desc",
    });
  });
  it("trims the search and keeps every filter", () => {
    const q = { ...emptyQuery(), search: "  bill ing ", status: "active" as const, keyType: "user" as const, org: "org_a", user: "u_1", api: "api_2", flag: "rotation_due" as const };
    expect(windowQuery(q, { key: "name", dir: "asc" })).toEqual({
      search: "bill ing",
      status: "active",
      key_type: "user",
      org_code: "org_a",
      user_id: "u_1",
      api_id: "api_2",
      flag: "rotation_due",
      sort: "name",
      dir: "asc",
    });
  });
});

/** A screen of 30 rows at many scroll positions. */
function eachScreen(check: (start: number, end: number) => void): void {
  for (let start = 0; start < 5000; start += 37) check(start, start + 30);
}

/** A span that holds every row of the screen `start..end`, answered for further checks. */
function covering(span: { offset: number; limit: number }, start: number, end: number): { offset: number; limit: number } {
  expect(span.offset).toBeLessThanOrEqual(start);
  expect(span.offset + span.limit).toBeGreaterThanOrEqual(end);
  return span;
}

describe("pageSpan", () => {
  it("asks for whole pages around the screen, at most three of them", () => {
    expect(pageSpan(0, 30, 100)).toEqual({ offset: 0, limit: 200 });
    expect(pageSpan(250, 280, 100)).toEqual({ offset: 100, limit: 300 });
    eachScreen((start, end) => {
      const { offset, limit } = covering(pageSpan(start, end, 100), start, end);
      expect(limit).toBeLessThanOrEqual(400);
      expect(offset % 100).toBe(0);
    });
  });
  it("asks for one row's page when nothing is on screen yet", () => {
    expect(pageSpan(0, 0, 100)).toEqual({ offset: 0, limit: 200 });
  });
});

describe("screenSpan", () => {
  it("asks for the screen's rows and a margin, far fewer than the pages around them", () => {
    expect(screenSpan(0, 30, 8)).toEqual({ offset: 0, limit: 38 });
    expect(screenSpan(250, 280, 8)).toEqual({ offset: 242, limit: 46 });
    eachScreen((start, end) => {
      const { limit } = covering(screenSpan(start, end, 8), start, end);
      expect(limit).toBeLessThanOrEqual(46);
      expect(limit).toBeLessThan(pageSpan(start, end, 100).limit / 4);
    });
  });
  it("asks for one row and its margin when nothing is on screen yet", () => {
    expect(screenSpan(0, 0, 8)).toEqual({ offset: 0, limit: 9 });
  });
});
