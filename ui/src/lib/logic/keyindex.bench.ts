// `make bench` (vitest bench): the keys table's JavaScript per interaction at 10,000 and
// 100,000 keys. Goal: each under 5 ms (index once, then filter). The index build is printed
// too: it runs once per key list.
import { bench, describe } from "vitest";
import { KeyIndex } from "./keyindex";
import { emptyQuery, type Sort } from "./keys";
import { genKeys } from "./gen";

for (const n of [10_000, 100_000]) {
  const keys = genKeys(n);
  const idx = new KeyIndex(keys);
  const byTime: Sort = { key: "last_verified", dir: "desc" };
  const byName: Sort = { key: "name", dir: "asc" };
  idx.warm(byTime);
  idx.warm(byName);
  const label = n.toLocaleString("en-US");
  let t = 0;
  const typed = ["b", "bi", "bil", "bill", "billi", "billin", "billing"];

  describe(`keys table at ${label} keys (goal: < 5 ms each)`, () => {
    bench(`keystroke in search (goal < 5 ms)`, () => {
      idx.query({ ...emptyQuery(), search: typed[t++ % typed.length] as string }, byTime);
    });
    bench(`fresh search, no refinement (goal < 5 ms)`, () => {
      idx.query({ ...emptyQuery(), search: t++ % 2 ? "payments prod" : "ledger" }, t % 3 ? byTime : byName);
    });
    bench(`filter change: status (goal < 5 ms)`, () => {
      idx.query({ ...emptyQuery(), status: t++ % 2 ? "active" : "revoked" }, byTime);
    });
    bench(`sort change: name <-> last verified (goal < 5 ms)`, () => {
      idx.query(emptyQuery(), t++ % 2 ? byName : byTime);
    });
    bench(`sync delta: 100 changed rows applied (goal < 5 ms)`, () => {
      const changed = [];
      for (let j = 0; j < 100; j++) {
        const k = keys[(t * 100 + j) % n]!;
        changed.push({ ...k, last_verified_ip: `198.18.${t % 250}.${j}` });
      }
      t++;
      idx.apply(changed);
    });
  });

  describe(`index build at ${label} keys (once per key list; no goal)`, () => {
    bench(`index + sort by last verified`, () => {
      const i = new KeyIndex(keys);
      i.warm(byTime);
    }, { iterations: 3, time: 0 });
  });
}
