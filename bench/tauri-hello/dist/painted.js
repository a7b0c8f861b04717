// The first frame painted, as a performance mark, the way Keyward's keys table marks its own
// (ui/src/lib/components/KeysTable.svelte): the second animation frame starts after the first
// one was painted. scripts/release_bench.py reads it over WebDriver.
requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("app:painted")));
