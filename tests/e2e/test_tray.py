"""End-to-end: "Keep watching when the window is closed" in the real app, under Xvfb.

Each test starts its own Keyward (never the shared `driver` fixture's, which the other tests
need open) in its own KEYWARD_HOME and HOME, on a private D-Bus session bus (so the
single-instance check never meets another Keyward, and `dbus-monitor` on that bus sees the
app's desktop notifications), and closes its window the way a window manager does: a
WM_DELETE_WINDOW client message, sent with libX11.

- on: the setting turned on in Settings registers the start at login; closing the window hides
  it, the process keeps running, and background syncs (the store's sync runs) and an alert
  notification (the shell's notify_state counter, and a Notify call on the bus) still happen;
- started at login (`--autostart`) with the setting on: the window stays hidden; the tray's menu
  (read and clicked over D-Bus, as a panel does) says the last sync and the open alerts, and its
  Sync now syncs, Open shows the window, and Quit ends the app;
- off (the default): closing the window ends the app.

Run with: flock /tmp/keyward-e2e.lock env E2E_NO_BUILD=1 E2E_NO_SCALE=1 scripts/e2e.sh \
tests/e2e/test_tray.py -k tray
"""

import ctypes
import ctypes.util
import glob
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

from conftest import ART
from harness import start_tauri_driver

APP = os.environ.get("KEYWARD_APP", "")
# The demo's watchtower script (a new IP, a spike, drift, the canary touched: alerts that are
# announced) one event every 12 s from the first sync, so that some land after the window is
# closed; the demo syncs in the background every 3 s.
SCRIPT_STEP_MS = "12000"
DEMO_SYNC_SECS = "3"


def poll(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


# --- X11 (libX11 through ctypes: no extra package) -------------------------------------------

class _XWindowAttributes(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("border_width", ctypes.c_int), ("depth", ctypes.c_int), ("visual", ctypes.c_void_p),
                ("root", ctypes.c_ulong), ("class_", ctypes.c_int), ("bit_gravity", ctypes.c_int),
                ("win_gravity", ctypes.c_int), ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
                ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int), ("colormap", ctypes.c_ulong),
                ("map_installed", ctypes.c_int), ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
                ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
                ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p)]


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("l", ctypes.c_long * 5), ("pad", ctypes.c_long * 12)]


class X:
    IS_VIEWABLE = 2

    def __init__(self):
        x = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XInternAtom.restype = ctypes.c_ulong
        x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong),
                                 ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)), ctypes.POINTER(ctypes.c_uint)]
        x.XGetWindowProperty.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                         ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int),
                                         ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong),
                                         ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte))]
        x.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XWindowAttributes)]
        x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
        x.XFlush.argtypes = [ctypes.c_void_p]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        # Xlib's default error handler prints and calls exit(): a window destroyed between
        # XQueryTree and XGetWindowProperty (the webview makes and drops helper windows while
        # it starts, and the app's window goes when it closes) would end pytest itself, with
        # no test result. Errors are counted here instead, and the calls report failure.
        self.x_errors = 0

        def on_error(_dpy, _event):
            self.x_errors += 1
            return 0

        self._on_error = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(on_error)
        x.XSetErrorHandler.restype = ctypes.c_void_p
        x.XSetErrorHandler.argtypes = [ctypes.c_void_p]
        x.XSetErrorHandler(ctypes.cast(self._on_error, ctypes.c_void_p))
        self.x = x
        self.dpy = x.XOpenDisplay(None)
        assert self.dpy, "no X display"

    def close(self):
        self.x.XCloseDisplay(self.dpy)

    def atom(self, name):
        return self.x.XInternAtom(self.dpy, name.encode(), 0)

    def _prop(self, w, name, type_atom=0):
        actual, fmt, n, after = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
        data = ctypes.POINTER(ctypes.c_ubyte)()
        if self.x.XGetWindowProperty(self.dpy, w, self.atom(name), 0, 1024, 0, type_atom, ctypes.byref(actual),
                                     ctypes.byref(fmt), ctypes.byref(n), ctypes.byref(after), ctypes.byref(data)) != 0:
            return None
        if not data:
            return None
        try:
            if fmt.value == 32:
                return [ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[i] for i in range(n.value)]
            if fmt.value == 8:
                return ctypes.string_at(data, n.value)
            return None
        finally:
            self.x.XFree(data)

    def _children(self, w):
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        kids, n = ctypes.POINTER(ctypes.c_ulong)(), ctypes.c_uint()
        if not self.x.XQueryTree(self.dpy, w, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(kids), ctypes.byref(n)):
            return []
        out = [kids[i] for i in range(n.value)]
        if kids:
            self.x.XFree(kids)
        return out

    def app_window(self, pid):
        """The top-level window titled Keyward of process `pid` (its _NET_WM_PID), or None."""
        for w in self._children(self.x.XDefaultRootWindow(self.dpy)):
            if self._prop(w, "_NET_WM_PID") == [pid] and self._prop(w, "WM_NAME") == b"Keyward":
                return w
        return None

    def viewable(self, w):
        attrs = _XWindowAttributes()
        if not self.x.XGetWindowAttributes(self.dpy, w, ctypes.byref(attrs)):
            return False
        return attrs.map_state == self.IS_VIEWABLE

    def request_close(self, w):
        """What a window manager's close button does: WM_PROTOCOLS / WM_DELETE_WINDOW."""
        assert self.atom("WM_DELETE_WINDOW") in (self._prop(w, "WM_PROTOCOLS") or []), "the window takes no WM_DELETE_WINDOW"
        ev = _XClientMessageEvent()
        ev.type = 33  # ClientMessage
        ev.window = w
        ev.message_type = self.atom("WM_PROTOCOLS")
        ev.format = 32
        ev.l[0] = self.atom("WM_DELETE_WINDOW")
        ev.l[1] = 0  # CurrentTime
        assert self.x.XSendEvent(self.dpy, w, 0, 0, ctypes.byref(ev))
        self.x.XSync(self.dpy, 0)


# --- one app of our own ----------------------------------------------------------------------

def alive(pid):
    """The process runs (a zombie, ended but not yet reaped, does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Scratch:
    """A private home, KEYWARD_HOME and session bus (with a monitor of desktop notifications)."""

    def __init__(self, name):
        self.dir = tempfile.mkdtemp(prefix=f"keyward-tray-{name}.")
        self.home = os.path.join(self.dir, "home")
        self.kw_home = os.path.join(self.dir, "keyward-home")
        os.makedirs(os.path.join(self.home, ".cache"))  # the webview's caches (mesa's) go there
        os.makedirs(self.kw_home)
        self.bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                    stdout=subprocess.PIPE, text=True)
        self.address = self.bus.stdout.readline().strip()
        assert self.address, "dbus-daemon gave no address"
        self.notify_log = os.path.join(ART, f"tray-{name}-notify.dbus")
        self.monitor = subprocess.Popen(
            ["dbus-monitor", "--address", self.address, "interface='org.freedesktop.Notifications',member='Notify'"],
            stdout=open(self.notify_log, "w"), stderr=subprocess.STDOUT)
        self.env = dict(os.environ)
        self.env.update({
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local/share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "KEYWARD_HOME": self.kw_home,
            "DBUS_SESSION_BUS_ADDRESS": self.address,
            "KEYWARD_DEMO_SCRIPT_STEP_MS": SCRIPT_STEP_MS,
            "KEYWARD_DEMO_SYNC_SECS": DEMO_SYNC_SECS,
        })

    def notify_calls(self):
        with open(self.notify_log) as f:
            return sum(1 for line in f if "member=Notify" in line)

    def sync_runs(self):
        """Finished syncs in the demo's store (a real SQLite file)."""
        dbs = glob.glob(os.path.join(self.kw_home, "demo", "**", "keyward.db"), recursive=True)
        if not dbs:
            return 0
        con = sqlite3.connect(f"file:{dbs[0]}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM sync_runs WHERE status IN ('ok', 'partial')").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
        finally:
            con.close()

    def write_settings(self, text):
        cfg = os.path.join(self.kw_home, "config")
        os.makedirs(cfg, exist_ok=True)
        with open(os.path.join(cfg, "config.toml"), "w") as f:
            f.write(text)

    def app_pid(self):
        """The Keyward process started (by WebKitWebDriver) with this KEYWARD_HOME."""
        want = f"KEYWARD_HOME={self.kw_home}".encode()
        real = os.path.realpath(APP)
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                if os.path.realpath(f"/proc/{p}/exe") != real:
                    continue
                with open(f"/proc/{p}/environ", "rb") as f:
                    if want in f.read().split(b"\0"):
                        return int(p)
            except OSError:
                continue
        return None

    def cleanup(self):
        for p in (self.monitor, self.bus):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in glob.glob(os.path.join(self.home, ".local/share", "*", "logs", "*.log")):
            shutil.copy(log, os.path.join(ART, f"tray-{os.path.basename(self.dir)}-{os.path.basename(log)}"))
        shutil.rmtree(self.dir, ignore_errors=True)


# --- the tray's menu, as the panel sees it (libayatana-appindicator's dbusmenu) ----------------

TRAY_PATH = "/org/ayatana/NotificationItem/tray_icon_tray_app_keyward"


def dbus_send(s, dest, path, method, *args):
    r = subprocess.run(["dbus-send", "--bus=" + s.address, "--reply-timeout=5000", "--print-reply", f"--dest={dest}",
                        path, method, *args], capture_output=True, text=True, timeout=30)
    return r.stdout if r.returncode == 0 else None


class TrayMenu:
    def __init__(self, s, dest):
        self.s, self.dest = s, dest

    def items(self):
        """[(id, label)] of the menu's items, in order (the root's own entry left out)."""
        out = dbus_send(self.s, self.dest, TRAY_PATH + "/Menu", "com.canonical.dbusmenu.GetLayout",
                        "int32:0", "int32:-1", "array:string:label") or ""
        items, last_id, want_label = [], None, False
        for line in out.splitlines():
            m = re.search(r"^\s*int32 (-?\d+)$", line)
            if m:
                last_id = int(m.group(1))
            elif 'string "label"' in line:
                want_label = True
            elif want_label:
                want_label = False
                m = re.search(r'variant\s+string "(.*)"$', line)
                if m and last_id:
                    items.append((last_id, m.group(1)))
        return items

    def labels(self):
        return [label for _, label in self.items()]

    def click(self, label):
        ids = [i for i, l in self.items() if l == label]
        assert ids, f"no {label!r} in the tray's menu"
        assert dbus_send(self.s, self.dest, TRAY_PATH + "/Menu", "com.canonical.dbusmenu.Event",
                         f"int32:{ids[0]}", "string:clicked", "variant:int32:0", "uint32:0") is not None, f"clicking {label!r}"


def bus_names(s):
    """[(unique name, pid)] of the connections on the scratch session bus."""
    out = dbus_send(s, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames") or ""
    names = []
    for name in re.findall(r'string "(:[0-9.]+)"', out):
        pid = dbus_send(s, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.GetConnectionUnixProcessID", f"string:{name}") or ""
        m = re.search(r"uint32 (\d+)", pid)
        names.append((name, int(m.group(1)) if m else None))
    return names


def tray_menu(s, pid):
    """The tray's menu, once the app (process `pid`) has put it on the bus with its items (None
    before). Only the app's own connections are asked: a stalled other client (the monitor, the
    accessibility bus) cannot use up the wait."""
    for name, owner in bus_names(s):
        if owner != pid:
            continue
        if dbus_send(s, name, TRAY_PATH, "org.freedesktop.DBus.Introspectable.Introspect"):
            menu = TrayMenu(s, name)
            return menu if len(menu.items()) >= 4 else None
    return None


def tray_diagnosis(s, pid):
    """What the bus shows of the tray, for a failure's message and the artifacts."""
    lines = [f"app pid {pid}"]
    for name, owner in bus_names(s):
        intro = dbus_send(s, name, TRAY_PATH, "org.freedesktop.DBus.Introspectable.Introspect") if owner == pid else None
        lines.append(f"{name} pid={owner} tray_path={'yes' if intro else 'no'}")
        if intro:
            layout = dbus_send(s, name, TRAY_PATH + "/Menu", "com.canonical.dbusmenu.GetLayout",
                               "int32:0", "int32:-1", "array:string:label")
            lines.append(f"  GetLayout: {(layout or 'no answer')[:2000]}")
    with open(os.path.join(ART, f"tray-{os.path.basename(s.dir)}-bus.txt"), "w") as f:
        f.write("\n".join(lines))
    return "\n".join(lines)


def app_output(s):
    with open(os.path.join(ART, f"tray-{os.path.basename(s.dir)}-app.out")) as f:
        return f.read()


@pytest.fixture
def xdisplay():
    x = X()
    yield x
    x.close()


def tid(name):
    return f'[data-testid="{name}"]'


def shown(d, name, timeout=60):
    def look():
        els = d.find_elements(By.CSS_SELECTOR, tid(name))
        return els[0] if els and els[0].is_displayed() else None
    return poll(look, timeout, f"{name} to appear")


IPC = "const done = arguments[arguments.length - 1];" \
      "window.__TAURI_INTERNALS__.invoke(arguments[0], {}).then(done, (e) => done({error: e}));"


def test_tray_keep_watching_on_close_hides_the_window_and_syncs_and_notifications_go_on(xdisplay):
    assert APP, "KEYWARD_APP is not set"
    s = Scratch("on")
    drv_log = open(os.path.join(ART, "tray-on-tauri-driver.log"), "w")
    drv, port = start_tauri_driver(drv_log, s.env)
    d = None
    try:
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": APP, "args": ["--demo"]})
        d = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=opts)
        # The setting, off by default, turned on in Settings.
        shown(d, "nav-settings").click()
        box = shown(d, "settings-keep-watching")
        assert not box.is_selected(), "keep watching is off by default"
        box.click()
        shown(d, "settings-save").click()
        autostart = os.path.join(s.env["XDG_CONFIG_HOME"], "autostart")
        entry = poll(lambda: glob.glob(os.path.join(autostart, "*.desktop")), 20, "the start-at-login entry")
        with open(entry[0]) as f:
            desktop = f.read()
        assert "--autostart" in desktop, desktop
        with open(os.path.join(s.kw_home, "config", "config.toml")) as f:
            assert "keep_watching = true" in f.read()
        d.get_screenshot_as_png()  # WebKitWebDriver hands back the previous frame: flush it
        time.sleep(0.3)
        d.save_screenshot(os.path.join(ART, "tray-settings-keep-watching.png"))

        pid = poll(s.app_pid, 20, "the app's process")
        win = poll(lambda: xdisplay.app_window(pid), 20, "the app's X window")
        assert xdisplay.viewable(win)
        before = d.execute_async_script(IPC, "notify_state")
        assert "error" not in before, before
        runs_before, calls_before = s.sync_runs(), s.notify_calls()

        xdisplay.request_close(win)
        poll(lambda: not xdisplay.viewable(win), 20, "the window to be hidden")
        assert alive(pid), "closing the window ended the app although keep watching is on"

        # Background syncs go on with the window hidden...
        poll(lambda: s.sync_runs() >= runs_before + 2, 120, "background syncs after the window closed")
        # ...and the alerts they find are announced on the desktop (the shell's counter and a
        # Notify call on the session bus).
        after = poll(lambda: (lambda st: st if st.get("sent", 0) > before["sent"] else None)(
            d.execute_async_script(IPC, "notify_state")), 150, "a notification after the window closed")
        assert after["last_title"], after
        poll(lambda: s.notify_calls() > calls_before, 20, "a Notify call on the session bus")
        assert alive(pid)
        assert not xdisplay.viewable(win), "the window stayed hidden"
    finally:
        if d is not None:
            try:
                d.quit()
            except Exception:  # the app may already be gone
                pass
        drv.terminate()
        try:
            drv.wait(10)
        except subprocess.TimeoutExpired:
            drv.kill()
        drv_log.close()
        s.cleanup()


def launch(s, *args):
    log = open(os.path.join(ART, f"tray-{os.path.basename(s.dir)}-app.out"), "w")
    return subprocess.Popen([APP, *args], env=s.env, stdout=log, stderr=subprocess.STDOUT), log


def stop(proc, log):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    log.close()


def test_tray_started_at_login_stays_hidden_and_its_menu_opens_syncs_and_quits(xdisplay):
    """Started at login with the setting on, the window stays hidden; the tray's menu (as the
    desktop's panel sees it: com.canonical.dbusmenu on the session bus) says the last sync and
    the open alerts, and its Sync now, Open and Quit work."""
    assert APP, "KEYWARD_APP is not set"
    s = Scratch("login")
    # No background sync within the test: a new sync run is Sync now's.
    s.env["KEYWARD_DEMO_SYNC_SECS"] = "3600"
    s.write_settings("[settings]\nkeep_watching = true\n")
    proc, log = launch(s, "--demo", "--autostart")
    try:
        poll(lambda: s.sync_runs() >= 1, 120, "the demo's first sync")
        # The window is created hidden and never shown: no X window of it, or an unmapped one.
        hidden = xdisplay.app_window(proc.pid)
        assert hidden is None or not xdisplay.viewable(hidden), "started at login, the window is shown"
        try:
            menu = poll(lambda: tray_menu(s, proc.pid), 60, "the tray's menu on the session bus")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{tray_diagnosis(s, proc.pid)}\n--- app log ---\n"
                                 + "\n".join(l for l in app_output(s).splitlines() if "mesa" not in l)[-3000:]) from None
        labels = menu.labels()
        assert ["Open Keyward", "Sync now", "Quit"] == [l for l in labels if l in ("Open Keyward", "Sync now", "Quit")], labels
        # The tray is up before the session has opened (start-up opens it in the background):
        # its line says the last sync and the open alerts once the session answers.
        line = r"(Synced (just now|\d+ min ago|\d+ h ago|\d+ days ago)|Not synced yet) · (no open alerts|1 open alert|\d+ open alerts)"
        try:
            poll(lambda: re.fullmatch(line, menu.labels()[0]), 30, "the tray's line to say the sync and the alerts")
        except AssertionError as e:
            raise AssertionError(f"{e}: {menu.labels()[0]!r}") from None

        runs = s.sync_runs()
        menu.click("Sync now")
        poll(lambda: s.sync_runs() > runs, 60, "the sync started from the tray")
        poll(lambda: "sync from the tray: " in app_output(s), 20, "the tray's sync in the app's log")
        poll(lambda: re.match(r"Synced (just now|1 min ago)", menu.labels()[0]), 40, "the tray to say the sync is fresh")
        assert proc.poll() is None

        menu.click("Open Keyward")
        win = poll(lambda: (lambda w: w if w and xdisplay.viewable(w) else None)(xdisplay.app_window(proc.pid)),
                   20, "the window shown by Open")
        xdisplay.request_close(win)
        poll(lambda: not xdisplay.viewable(win), 20, "the window hidden again")
        assert proc.poll() is None, "closing the window ended the app although keep watching is on"

        menu.click("Quit")
        rc = poll(lambda: (proc.poll(),) if proc.poll() is not None else None, 60, "Quit to end the app")[0]
        assert rc == 0, f"the app ended with {rc}"
    finally:
        stop(proc, log)
        s.cleanup()


def test_tray_off_closing_the_window_ends_the_app(xdisplay):
    assert APP, "KEYWARD_APP is not set"
    s = Scratch("off")
    proc, log = launch(s, "--demo")
    try:
        win = poll(lambda: (lambda w: w if w and xdisplay.viewable(w) else None)(xdisplay.app_window(proc.pid)),
                   60, "the app's window")
        # The demo has opened (its first sync is in the store): the app is up, not starting.
        poll(lambda: s.sync_runs() >= 1, 60, "the demo's first sync")
        xdisplay.request_close(win)
        rc = poll(lambda: (proc.poll(),) if proc.poll() is not None else None, 60, "the app to end")[0]
        assert rc == 0, f"the app ended with {rc}"
    finally:
        stop(proc, log)
        s.cleanup()
