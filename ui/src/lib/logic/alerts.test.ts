import { describe, expect, it } from "vitest";
import type { Alert } from "../bindings/Alert";
import { alertsByKey, dateInputValue, endOfDayIso, evidenceFacts, kindLabel, KINDS, severityClass, severityRank } from "./alerts";
import { bytes } from "./format";

function alert(p: Partial<Alert> & { id: number }): Alert {
  return {
    kind: "new_ip",
    severity: "medium",
    key_id: "api_key_a",
    key_name: "A",
    at: "2026-12-01T12:00:00Z",
    message: "m",
    evidence: {},
    acknowledged_at: null,
    muted: false,
    ...p,
  };
}

describe("alerts by key", () => {
  it("counts open alerts per key and keeps the worst severity", () => {
    const m = alertsByKey([
      alert({ id: 1, severity: "medium" }),
      alert({ id: 2, severity: "critical", kind: "canary_tripped" }),
      alert({ id: 3, severity: "low", kind: "new_ip" }),
      alert({ id: 4, key_id: "api_key_b", severity: "high", kind: "spike" }),
    ]);
    expect(m.get("api_key_a")).toEqual({ count: 3, worst: "critical", kinds: ["new_ip", "canary_tripped"] });
    expect(m.get("api_key_b")?.worst).toBe("high");
  });

  it("leaves out acknowledged, muted and keyless alerts", () => {
    const m = alertsByKey([
      alert({ id: 1, acknowledged_at: "2026-12-01T13:00:00Z" }),
      alert({ id: 2, muted: true }),
      alert({ id: 3, key_id: null }),
    ]);
    expect(m.size).toBe(0);
  });
});

describe("alert words", () => {
  it("names every kind and orders severities", () => {
    expect(KINDS).toHaveLength(8);
    expect(new Set(KINDS.map((k) => k.kind)).size).toBe(8);
    expect(kindLabel("drift")).toBe("Changed outside Keyward");
    expect(severityRank("critical")).toBeGreaterThan(severityRank("high"));
    expect(severityRank("low")).toBeGreaterThan(severityRank("info"));
    expect(severityClass("critical")).toContain("red");
    expect(severityClass("medium")).toBe("amber");
  });

  it("shows the evidence that raised an alert as facts", () => {
    expect(evidenceFacts(alert({ id: 1, kind: "new_ip", evidence: { ip: "198.18.7.77", known_ips: ["10.0.0.1", "10.0.0.2"] } }))).toEqual([
      "IP: 198.18.7.77",
      "known: 10.0.0.1, 10.0.0.2",
    ]);
    expect(evidenceFacts(alert({ id: 2, kind: "spike", evidence: { per_hour: 600, baseline_per_hour: 4.2, verifications: 600 } }))).toEqual([
      "per hour: 600",
      "baseline: 4.2",
      "in window: 600",
    ]);
    expect(evidenceFacts(alert({ id: 3, kind: "drift", evidence: { change: "rotated", created_by: null, previous_suffix: "ab12", key_suffix: "cd34" } }))).toEqual([
      "change: rotated",
      "suffix: ab12 → cd34",
    ]);
    expect(evidenceFacts(alert({ id: 4, kind: "rotation_due", evidence: { expires_on: "2026-11-30T23:59:59Z" } }))).toEqual(["expires: 2026-11-30"]);
  });
});

describe("expiry dates", () => {
  it("turns a date into the end of that local day and back", () => {
    const iso = endOfDayIso("2027-03-31");
    expect(iso).not.toBeNull();
    const d = new Date(iso as string);
    expect([d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes()]).toEqual([2027, 3, 31, 23, 59]);
    expect(dateInputValue("2027-03-31T12:00:00Z")).toBe("2027-03-31");
    expect(dateInputValue(null)).toBe("");
  });

  it("refuses what is not a date", () => {
    expect(endOfDayIso("")).toBeNull();
    expect(endOfDayIso("31/03/2027")).toBeNull();
    expect(endOfDayIso("2027-3-31")).toBeNull();
  });
});

describe("bytes", () => {
  it("uses binary units", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(1536)).toBe("1.5 KiB");
    expect(bytes(3 * 1024 ** 3)).toBe("3 GiB");
  });
});
