"""Release figures for `make bench` (run by scripts/release-bench.sh inside dbus-run-session and
xvfb-run), each beside the same figure of Tauri's own hello world (bench/tauri-hello, built here
with the same release profile) measured in the same run, the same way:
  - launch to the first painted page (hello) vs launch to the first painted keys table from a
    cached store of 10,000 keys (Keyward), over WebDriver, launches of the two alternating;
  - idle memory (PSS) of the whole process tree after 60 s: the hello world, then Keyward in
    demo mode, one after the other (never side by side: PSS splits shared pages between them).
Each phase writes its figures as JSON to BENCH_OUT_DIR; `report` prints the table.

Also the sizes of the release binaries and packages, and `keyward --help` start-up time (hyperfine
when installed, else a loop here); then prints every figure beside its goal.

Env: APP (the release keyward-app), HELLO (the release tauri-hello), CLI (the release keyward),
SANDBOX (kinde-sandbox), DEB, RPM, WORK (a scratch dir), BENCH_IDLE_SECS (default 60), BENCH_RUNS
(cold starts measured, default 5, of each app), BENCH_CLI_RUNS (default 200)."""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from harness import free_port, wait_port  # noqa: E402

APP = os.environ["APP"]
HELLO = os.environ["HELLO"]
CLI = os.environ["CLI"]
SANDBOX = os.environ["SANDBOX"]
WORK = os.environ["WORK"]
IDLE_SECS = int(os.environ.get("BENCH_IDLE_SECS", "60"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
KEYS = 10_000


def log(msg):
    print(f"release-bench: {msg}", file=sys.stderr, flush=True)


def scratch_env(name):
    home = os.path.join(WORK, name)
    for d in ("home/.config", "home/.local/share", "home/.cache", "keyward-home"):
        os.makedirs(os.path.join(home, d), exist_ok=True)
    env = dict(os.environ)
    env.update(
        HOME=f"{home}/home",
        XDG_CONFIG_HOME=f"{home}/home/.config",
        XDG_DATA_HOME=f"{home}/home/.local/share",
        XDG_CACHE_HOME=f"{home}/home/.cache",
        KEYWARD_HOME=f"{home}/keyward-home",
    )
    env.pop("KEYWARD_CLIENT_SECRET", None)
    return env


# ---------------------------------------------------------------- cold start from a cached store

def start_sandbox(env):
    log_path = os.path.join(WORK, "sandbox.log")
    out = open(log_path, "w")
    p = subprocess.Popen(
        [SANDBOX, "--listen", "127.0.0.1:0", "--seed", "demo", "--keys", str(KEYS), "--rng-seed", "7"],
        stdout=out, stderr=subprocess.STDOUT, env=env,
    )
    end = time.time() + 120
    while time.time() < end:
        for line in open(log_path):
            if line.startswith("listening on "):
                return p, line.split()[2]
        time.sleep(0.1)
    raise RuntimeError("the sandbox did not start: " + open(log_path).read())


# The UI marks the first frame painted with rows (`keyward:table-painted`, KeysTable.svelte); a
# build without that mark is timed here instead: the frame after the first rows are in the DOM.
# The hello world's page marks its first painted frame the same way (`app:painted`,
# bench/tauri-hello/dist/painted.js).
KEYWARD_MARK = "keyward:table-painted"
HELLO_MARK = "app:painted"
PAINTED_JS = """
const mark = arguments[0];
const done = arguments[arguments.length - 1];
function count() {
  const t = document.querySelector('[data-testid="keys-table"]');
  return t ? Number(t.getAttribute('data-count')) : 0;
}
let seen = null, frames = 0;
function tick() {
  const m = performance.getEntriesByName(mark)[0];
  if (m) return done({ at: performance.timeOrigin + m.startTime, origin: performance.timeOrigin, rows: count(), how: 'ui mark' });
  const r = document.querySelector('[data-testid="key-row"]');
  // Rows in the DOM: the frame after is on screen. Give the UI's mark a few frames to arrive.
  if (seen === null && r && r.textContent.trim()) seen = performance.now();
  if (seen !== null && ++frames > 6) {
    return done({ at: performance.timeOrigin + seen, origin: performance.timeOrigin, rows: count(), how: 'rAF poll' });
  }
  requestAnimationFrame(tick);
}
tick();
"""


def launch_and_wait_painted(env, driver_port, app=None, mark=KEYWARD_MARK):
    opts = ArgOptions()
    opts.set_capability("browserName", "wry")
    opts.set_capability("tauri:options", {"application": app or APP})
    t0 = time.time()
    d = webdriver.Remote(command_executor=f"http://127.0.0.1:{driver_port}", options=opts)
    try:
        t_session = time.time()
        d.set_script_timeout(120)
        r = d.execute_async_script(PAINTED_JS, mark)
        return {
            "launch_to_painted_s": r["at"] / 1000 - t0,
            "launch_to_page_start_s": r["origin"] / 1000 - t0,
            "session_s": t_session - t0,
            "rows": r["rows"],
            "how": r["how"],
        }
    finally:
        try:
            d.quit()
        except Exception:
            pass


def cold_start():
    env = scratch_env("cold")
    sandbox, url = start_sandbox(env)
    try:
        cli_env = dict(env, KEYWARD_CLIENT_SECRET="sandbox_admin_secret")
        subprocess.run([CLI, "profile", "add", "bench", "--domain", url, "--client-id", "sandbox_admin",
                        "--environment", "development"], env=cli_env, check=True, stdout=subprocess.DEVNULL)
        t = time.time()
        subprocess.run([CLI, "sync", "--wait"], env=cli_env, check=True, stdout=subprocess.DEVNULL)
        log(f"store filled: {KEYS:,} extra keys synced by the CLI in {time.time() - t:.1f} s")
    finally:
        # The store is the cache: the app must paint from it alone (it does not sync a profile
        # that has a local copy on open), so no server is needed and none is left running.
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(10)
    # The app reads the profile's secret from the environment instead of the OS keyring (no
    # Secret Service is started for it in the private D-Bus session).
    env["KEYWARD_CLIENT_SECRET"] = "sandbox_admin_secret"
    port, native = free_port(), free_port()
    drv_log = open(os.path.join(WORK, "tauri-driver.log"), "w")
    drv = subprocess.Popen([shutil.which("tauri-driver"), "--port", str(port), "--native-port", str(native)],
                           stdout=drv_log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_port(port)
        first = launch_and_wait_painted(env, port)
        log(f"first launch (webview caches empty): {first['launch_to_painted_s']:.2f} s to {first['rows']:,} rows painted")
        hfirst = launch_and_wait_painted(env, port, HELLO, HELLO_MARK)
        log(f"hello world, first launch: {hfirst['launch_to_painted_s']:.2f} s to its page painted")
        runs, hello = [], []
        # The two alternate, so that a change in the machine's load weighs on both alike.
        for i in range(RUNS):
            time.sleep(1.0)
            h = launch_and_wait_painted(env, port, HELLO, HELLO_MARK)
            log(f"hello world {i + 1}: {h['launch_to_painted_s']:.2f} s to painted page "
                f"(page load began at {h['launch_to_page_start_s']:.2f} s; {h['how']})")
            hello.append(h)
            time.sleep(1.0)
            r = launch_and_wait_painted(env, port)
            log(f"cold start {i + 1}: {r['launch_to_painted_s']:.2f} s to painted table "
                f"(page load began at {r['launch_to_page_start_s']:.2f} s, WebDriver session at {r['session_s']:.2f} s; {r['how']})")
            runs.append(r)
    finally:
        drv.terminate()
        drv.wait(10)
    painted = [r["launch_to_painted_s"] for r in runs]
    return {
        "rows": runs[-1]["rows"],
        "first_launch_s": first["launch_to_painted_s"],
        "cold_start_median_s": statistics.median(painted),
        "cold_start_min_s": min(painted),
        "cold_start_max_s": max(painted),
        "page_start_median_s": statistics.median(r["launch_to_page_start_s"] for r in runs),
        "runs": len(runs),
        "how": runs[-1]["how"],
        "hello_median_s": statistics.median(h["launch_to_painted_s"] for h in hello),
        "hello_min_s": min(h["launch_to_painted_s"] for h in hello),
        "hello_max_s": max(h["launch_to_painted_s"] for h in hello),
        "hello_page_start_median_s": statistics.median(h["launch_to_page_start_s"] for h in hello),
        "hello_how": hello[-1]["how"],
    }


# ---------------------------------------------------------------- idle memory of the process tree

def children_map():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(pid))
    return kids


def tree(root):
    kids, out, todo = children_map(), [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rollup(pid):
    vals = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
                    vals[parts[0][:-1]] = int(parts[1])
        with open(f"/proc/{pid}/comm") as f:
            vals["comm"] = f.read().strip()
    except OSError:
        return None
    return vals


def tree_rollups(root):
    """The rollups of root's process tree; the root itself is named "the app's process", so that
    Keyward's and the hello world's line up."""
    out = []
    for p in tree(root):
        r = rollup(p)
        if r:
            if p == root:
                r["comm"] = "the app's process"
            out.append(r)
    return out


def idle_tree(argv, name):
    """Starts argv, lets it idle for IDLE_SECS, and sums its process tree's PSS and RSS."""
    env = scratch_env(f"idle-{name}")
    out = open(os.path.join(WORK, f"idle-{name}.log"), "w")
    app = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    peak_pss = peak_rss = 0
    try:
        end = time.time() + IDLE_SECS
        while time.time() < end:
            time.sleep(1.0)
            if app.poll() is not None:
                raise RuntimeError(f"{name} exited early ({app.returncode}): see {out.name}")
            procs = tree_rollups(app.pid)
            peak_pss = max(peak_pss, sum(r.get("Pss", 0) for r in procs))
            peak_rss = max(peak_rss, sum(r.get("Rss", 0) for r in procs))
        procs = tree_rollups(app.pid)
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
    per = {}
    for r in procs:
        c = per.setdefault(r["comm"], {"n": 0, "rss_mib": 0.0, "pss_mib": 0.0})
        c["n"] += 1
        c["rss_mib"] += r.get("Rss", 0) / 1024
        c["pss_mib"] += r.get("Pss", 0) / 1024
    return {
        "idle_secs": IDLE_SECS,
        "pss_mib": sum(r.get("Pss", 0) for r in procs) / 1024,
        "rss_mib": sum(r.get("Rss", 0) for r in procs) / 1024,
        "peak_pss_mib": peak_pss / 1024,
        "peak_rss_mib": peak_rss / 1024,
        "processes": per,
    }


def memory():
    # One after the other, never side by side: PSS splits the pages that two processes share, so
    # a hello world running beside Keyward would make both look lighter.
    hello = idle_tree([HELLO], "hello")
    log(f"hello world idle: {hello['pss_mib']:.0f} MiB PSS")
    keyward = idle_tree([APP, "--demo"], "keyward")
    keyward["hello"] = hello
    return keyward


# ---------------------------------------------------------------- CLI start-up

def cli_start():
    runs = int(os.environ.get("BENCH_CLI_RUNS", "200"))
    env = scratch_env("cli")
    hf = shutil.which("hyperfine")
    if hf:
        out = os.path.join(WORK, "hyperfine.json")
        subprocess.run([hf, "-N", "--warmup", "10", "--runs", str(runs), "--export-json", out, f"{CLI} --help"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        r = json.load(open(out))["results"][0]
        return {"tool": "hyperfine", "runs": runs, "mean_ms": r["mean"] * 1000, "median_ms": r["median"] * 1000,
                "min_ms": r["min"] * 1000}
    times = []
    for i in range(runs + 10):
        t = time.perf_counter()
        subprocess.run([CLI, "--help"], env=env, check=True, stdout=subprocess.DEVNULL)
        if i >= 10:
            times.append(time.perf_counter() - t)
    return {"tool": "a loop of fork+exec (hyperfine not installed)", "runs": runs,
            "mean_ms": statistics.mean(times) * 1000, "median_ms": statistics.median(times) * 1000,
            "min_ms": min(times) * 1000}


# ---------------------------------------------------------------- the table

def mb(path):
    return os.path.getsize(path) / 1e6


def verdict(value, goal, unit, fmt="{:.2f}"):
    if value <= goal:
        return f"met (goal < {fmt.format(goal)} {unit})"
    return f"MISSED by {fmt.format(value - goal)} {unit} ({value / goal:.2f}x the goal < {fmt.format(goal)} {unit})"


def ratio_verdict(value, hello, times, unit, fmt):
    """Keyward's figure against `times` x the hello world's, measured in the same run."""
    goal = hello * times
    ratio = value / hello if hello else float("inf")
    if value <= goal:
        return f"{ratio:.2f}x hello: met (goal <= {times}x = {fmt.format(goal)} {unit})"
    return (f"{ratio:.2f}x hello: MISSED by {fmt.format(value - goal)} {unit} "
            f"(goal <= {times}x = {fmt.format(goal)} {unit})")


# Goals against the hello world, in the same run.
LAUNCH_X = 1.5
IDLE_X = 1.25


def report(r):
    rows = []
    app_mb, cli_mb = mb(APP), mb(CLI)
    rows.append(("release binary keyward-app", f"{app_mb:.1f} MB", verdict(app_mb, 25, "MB", "{:.1f}"),
                 f"{mb(HELLO):.1f} MB" if os.path.exists(HELLO) else ""))
    rows.append(("release binary keyward (CLI)", f"{cli_mb:.1f} MB", "", ""))
    for label, env in (("the .deb", "DEB"), ("the .rpm", "RPM")):
        if os.environ.get(env):
            rows.append((label, f"{mb(os.environ[env]):.1f} MB", "", ""))
    missed = []
    if "cold" in r:
        c = r["cold"]
        v = ratio_verdict(c["cold_start_median_s"], c["hello_median_s"], LAUNCH_X, "s", "{:.2f}")
        rows.append((f"launch to painted: Keyward's keys table ({c['rows']:,} cached keys) vs hello's page; median of {c['runs']}",
                     f"{c['cold_start_median_s']:.2f} s ({c['how']})", v,
                     f"{c['hello_median_s']:.2f} s ({c['hello_how']})"))
        if "MISSED" in v:
            missed.append(("launch", c))
        rows.append(("  of which: launch to page load start (median)", f"{c['page_start_median_s']:.2f} s", "",
                     f"{c['hello_page_start_median_s']:.2f} s"))
        rows.append(("  range", f"{c['cold_start_min_s']:.2f}-{c['cold_start_max_s']:.2f} s", "",
                     f"{c['hello_min_s']:.2f}-{c['hello_max_s']:.2f} s"))
        rows.append(("  first launch (empty webview caches)", f"{c['first_launch_s']:.2f} s", "", ""))
        rows.append(("  absolute goal of an earlier round", f"{c['cold_start_median_s']:.2f} s",
                     verdict(c["cold_start_median_s"], 1.0, "s"), ""))
    if "idle" in r:
        m = r["idle"]
        h = m.get("hello")
        if h:
            v = ratio_verdict(m["pss_mib"], h["pss_mib"], IDLE_X, "MiB", "{:.0f}")
            rows.append((f"idle memory, whole process tree, after {m['idle_secs']} s (PSS; Keyward in demo mode)",
                         f"{m['pss_mib']:.0f} MiB", v, f"{h['pss_mib']:.0f} MiB"))
            if "MISSED" in v:
                missed.append(("idle", m))
        rows.append(("  same, RSS summed (shared pages counted in every process)", f"{m['rss_mib']:.0f} MiB", "",
                     f"{h['rss_mib']:.0f} MiB" if h else ""))
        rows.append(("  peak over the run: PSS / RSS", f"{m['peak_pss_mib']:.0f} / {m['peak_rss_mib']:.0f} MiB", "",
                     f"{h['peak_pss_mib']:.0f} / {h['peak_rss_mib']:.0f} MiB" if h else ""))
        comms = sorted(set(m["processes"]) | set(h["processes"] if h else {}),
                       key=lambda k: -m["processes"].get(k, {"pss_mib": 0})["pss_mib"])
        for comm in comms:
            v = m["processes"].get(comm)
            hv = h["processes"].get(comm) if h else None
            fmt = lambda x: f"{x['pss_mib']:.0f} MiB PSS, {x['rss_mib']:.0f} MiB RSS (x{x['n']})" if x else "-"
            rows.append((f"    {comm}", fmt(v), "", fmt(hv)))
        rows.append(("  absolute goal of an earlier round", f"{m['pss_mib']:.0f} MiB",
                     verdict(m["pss_mib"], 150, "MiB", "{:.0f}"), ""))
    if "cli" in r:
        k = r["cli"]
        rows.append((f"keyward --help start-up ({k['tool']}, {k['runs']} runs)",
                     f"{k['mean_ms']:.1f} ms mean, {k['median_ms']:.1f} ms median", "", ""))
    w = [max(len(row[i]) for row in rows) for i in range(4)]
    head = ("figure", "Keyward", "goal", "Tauri hello world, same run")
    w = [max(w[i], len(head[i])) for i in range(4)]
    line = lambda cols: "  ".join(c.ljust(w[i]) for i, c in enumerate(cols)).rstrip()
    print()
    load = open("/proc/loadavg").read().split()[:3]
    print("Release figures, beside Tauri's hello world (bench/tauri-hello, same release profile) in the same run")
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(load)} (1, 5, 15 min) at the end of the run")
    print(line(head))
    print(line(tuple("-" * x for x in w)))
    for row in rows:
        print(line(row))
    for what, v in missed:
        print()
        if what == "launch":
            extra = v["cold_start_median_s"] - v["hello_median_s"]
            page = v["page_start_median_s"] - v["hello_page_start_median_s"]
            print(f"Why launch misses: Keyward paints {extra:.2f} s after the hello world; {page:.2f} s of it before "
                  f"its page starts loading (the shell's start-up: plugins, the store, the session), "
                  f"{extra - page:.2f} s after (the UI's bundle, the IPC round trips and the first rows).")
        else:
            h = v["hello"]
            parts = []
            for comm in sorted(v["processes"], key=lambda k: -v["processes"][k]["pss_mib"]):
                d = v["processes"][comm]["pss_mib"] - h["processes"].get(comm, {"pss_mib": 0})["pss_mib"]
                parts.append(f"{comm} {d:+.0f} MiB")
            print(f"Why idle memory misses: per process, Keyward minus hello: {', '.join(parts)}.")


if __name__ == "__main__":
    # One phase per run, each in its own D-Bus session (the app is single-instance per session):
    #   release_bench.py cli|cold|idle   measure, write BENCH_OUT_DIR/release-<phase>.json
    #   release_bench.py report          print the table from those files
    out_dir = os.environ.get("BENCH_OUT_DIR", WORK)
    phase = sys.argv[1]
    if phase == "report":
        result = {}
        for name in ("cli", "cold", "idle"):
            path = os.path.join(out_dir, f"release-{name}.json")
            if os.path.exists(path):
                result[name] = json.load(open(path))
        report(result)
    else:
        if phase == "idle":
            log(f"idle memory: the app in demo mode for {IDLE_SECS} s")
        value = {"cli": cli_start, "cold": cold_start, "idle": memory}[phase]()
        with open(os.path.join(out_dir, f"release-{phase}.json"), "w") as f:
            json.dump(value, f, indent=1)
