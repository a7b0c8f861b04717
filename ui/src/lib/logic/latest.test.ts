import { describe, expect, it } from "vitest";
import { Latest } from "./latest";

/** A request per ask that answers when released, in any order. */
function deferred() {
  const pending: { q: string; resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
  const run = (q: string) => new Promise<string>((resolve, reject) => pending.push({ q, resolve, reject }));
  return { pending, run };
}
const flush = () => new Promise((r) => setTimeout(r, 0));

describe("latest wins (the palette's key search)", () => {
  it("runs one request at a time and only the newest waiting ask next", async () => {
    const d = deferred();
    const got: [string, string][] = [];
    const l = new Latest<string, string>(d.run, (q, r) => got.push([q, r]));
    l.ask("b");
    l.ask("bi");
    l.ask("bil");
    l.ask("bill");
    expect(d.pending.map((p) => p.q)).toEqual(["b"]);
    d.pending[0]?.resolve("rows of b");
    await flush();
    // The answer to "b" is stale: not delivered; "bill" runs, "bi" and "bil" never do.
    expect(got).toEqual([]);
    expect(d.pending.map((p) => p.q)).toEqual(["b", "bill"]);
    d.pending[1]?.resolve("rows of bill");
    await flush();
    expect(got).toEqual([["bill", "rows of bill"]]);
    expect(l.started).toBe(2);
  });

  it("delivers a single ask, reports a failure of the newest only, and cancel drops the answer", async () => {
    const d = deferred();
    const got: string[] = [];
    const failed: string[] = [];
    const l = new Latest<string, string>(d.run, (q) => got.push(q), (q) => failed.push(q));
    l.ask("a");
    d.pending[0]?.resolve("x");
    await flush();
    expect(got).toEqual(["a"]);
    l.ask("b");
    d.pending[1]?.reject(new Error("offline"));
    await flush();
    expect(failed).toEqual(["b"]);
    l.ask("c");
    l.cancel();
    d.pending[2]?.resolve("y");
    await flush();
    expect(got).toEqual(["a"]);
    expect(d.pending.length).toBe(3);
  });
});
