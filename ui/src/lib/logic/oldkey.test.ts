import { describe, expect, it } from "vitest";
import { OLD_KEY_LIFETIMES, oldKeyDeadline } from "./keys";

describe("the old key's lifetime when a key is rolled", () => {
  it("offers Stripe's choices, now first", () => {
    expect(OLD_KEY_LIFETIMES.map((l) => l.label)).toEqual(["Now", "in 1 hour", "in 24 hours", "in 3 days", "in 7 days"]);
    // Each value is one the core's `old_key_expires` parser takes.
    expect(OLD_KEY_LIFETIMES.map((l) => l.value)).toEqual(["now", "1h", "24h", "3d", "7d"]);
  });

  it("says when the old key stops working", () => {
    const now = Date.parse("2026-12-07T10:00:00Z");
    expect(oldKeyDeadline("now", now)).toBeNull();
    expect(oldKeyDeadline("1h", now)).toBe("2026-12-07T11:00:00.000Z");
    expect(oldKeyDeadline("24h", now)).toBe("2026-12-08T10:00:00.000Z");
    expect(oldKeyDeadline("7d", now)).toBe("2026-12-14T10:00:00.000Z");
  });
});
