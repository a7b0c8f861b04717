import { describe, expect, it } from "vitest";
import { auditKeyIds, pastedMatch, sevenDays } from "./keynames";

describe("the keys a screen names", () => {
  it("audit rows name their key and a re-issue's other key, each once, capped", () => {
    const rows = [
      { key_id: "a", details: { new_id: "b", new_name: "B" } },
      { key_id: null, details: {} },
      { key_id: "b", details: { old_id: "a" } },
      { key_id: "c", details: null },
    ];
    expect(auditKeyIds(rows)).toEqual(["a", "b", "c"]);
    expect(auditKeyIds(rows, 2)).toEqual(["a", "b"]);
  });

  it("the doctor finds the one key with the pasted key's prefix and suffix", () => {
    const ks = [
      { id: "1", key_prefix: "k_live", key_suffix: "abcd" },
      { id: "2", key_prefix: "k_test", key_suffix: "abcd" },
      { id: "3", key_prefix: "k_live", key_suffix: null },
    ];
    expect(pastedMatch(ks, "k_live_0123456789abcd")?.id).toBe("1");
    expect(pastedMatch(ks, "k_live_0123456789zzzz")).toBeNull();
    expect(pastedMatch(ks, "k_liveabcd")).toBeNull(); // too short to be a key
    expect(pastedMatch([...ks, { id: "4", key_prefix: "k_live", key_suffix: "bcd" }], "k_live_0123456789abcd")).toBeNull();
  });

  it("the insights chart has 7 days, today last, zeros until the store answered", () => {
    expect(sevenDays(undefined)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(sevenDays([1, 2, 3, 4, 5, 6, 7])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(sevenDays([9, 1, 2, 3, 4, 5, 6, 7])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(sevenDays([5])).toEqual([0, 0, 0, 0, 0, 0, 5]);
  });
});
