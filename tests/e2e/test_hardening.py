"""End-to-end: the app's own hardening, in the real app under Xvfb.

One Keyward in the demo, started by its own WebDriver session (its own tauri-driver, HOME,
KEYWARD_HOME and session bus, so that the shared `driver` fixture's app is never touched):
- a page script that sets `location.href` to a loopback server leaves the window on the app
  (same URL, same title, the keys table still there), and the server is never asked anything:
  the navigation is refused by the app (its log says so), not merely blocked by the CSP;
- the log folder is 0700 and the log file 0600;
- closing the window through WebDriver (which closes the webview) ends the app's process: it
  does not run on with no window.

Run with: flock /tmp/keyward-e2e.lock env E2E_NO_BUILD=1 E2E_NO_SCALE=1 scripts/e2e.sh \
tests/e2e/test_hardening.py
"""

import glob
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

from conftest import ART
from harness import start_tauri_driver

APP = os.environ.get("KEYWARD_APP", "")


def poll(cond, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


class Listener:
    """A loopback HTTP server that records every connection it accepts (and answers a page)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopped = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                c.settimeout(2)
                c.recv(4096)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 22\r\n"
                          b"Connection: close\r\n\r\n<title>outside</title>")
            except OSError:
                pass
            finally:
                c.close()

    def stop(self):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()


class App:
    """Keyward in the demo, launched by WebDriver in a scratch home with its own session bus."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="keyward-hardening.")
        self.home = os.path.join(self.dir, "home")
        self.kw_home = os.path.join(self.dir, "keyward-home")
        os.makedirs(os.path.join(self.home, ".cache"))
        os.makedirs(self.kw_home)
        self.bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                    stdout=subprocess.PIPE, text=True)
        address = self.bus.stdout.readline().strip()
        assert address, "dbus-daemon gave no address"
        env = dict(os.environ)
        env.update({
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local/share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "KEYWARD_HOME": self.kw_home,
            "DBUS_SESSION_BUS_ADDRESS": address,
        })
        self.drv_log = open(os.path.join(ART, "hardening-tauri-driver.log"), "w")
        self.drv, self.port = start_tauri_driver(self.drv_log, env)
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": APP, "args": ["--demo"]})
        self.d = webdriver.Remote(command_executor=f"http://127.0.0.1:{self.port}", options=opts)

    def pid(self):
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

    def log_files(self):
        return glob.glob(os.path.join(self.home, ".local/share", "*", "logs", "*.log"))

    def log_text(self):
        out = ""
        for path in self.log_files():
            with open(path, errors="replace") as f:
                out += f.read()
        return out

    def cleanup(self):
        if self.d is not None:
            try:
                self.d.quit()
            except Exception:
                pass
        pid = self.pid()
        if pid:
            os.kill(pid, 15)
        self.drv.terminate()
        try:
            self.drv.wait(10)
        except subprocess.TimeoutExpired:
            self.drv.kill()
        self.drv_log.close()
        self.bus.terminate()
        self.bus.wait(10)
        for log in self.log_files():
            shutil.copy(log, os.path.join(ART, f"hardening-{os.path.basename(log)}"))
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def app():
    assert APP, "KEYWARD_APP is not set"
    a = App()
    try:
        yield a
    finally:
        a.cleanup()


def rows(d):
    return d.find_elements(By.CSS_SELECTOR, '[data-testid="key-row"]')


def test_a_page_script_cannot_navigate_the_window_away_from_the_app(app):
    d = app.d
    poll(lambda: rows(d), 60, "the demo's keys table")
    url, title = d.current_url, d.title
    assert url.startswith("tauri://localhost"), url
    listener = Listener()
    try:
        target = f"http://127.0.0.1:{listener.port}/"
        d.execute_script("location.href = arguments[0];", target)
        # The app logs each navigation it refuses: wait for that line, then look.
        poll(lambda: "refused a navigation of the main window away from the app, to http://127.0.0.1"
             in app.log_text(), 30, "the app to refuse the navigation")
        d.execute_script("location.replace(arguments[0]);", target)
        poll(lambda: app.log_text().count("refused a navigation of the main window") >= 2, 30,
             "the app to refuse the second navigation")
        assert d.current_url == url
        assert d.title == title
        assert rows(d), "the keys table is gone"
        assert d.execute_script("return location.origin") == "tauri://localhost"
    finally:
        listener.stop()
    assert listener.connections == 0, "the page reached a server outside the app"


def test_the_log_folder_and_file_are_private(app):
    logs = poll(app.log_files, 30, "the app's log file")
    for path in logs:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, f"{path}: {oct(os.stat(path).st_mode)}"
    folder = os.path.dirname(logs[0])
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, f"{folder}: {oct(os.stat(folder).st_mode)}"
    assert "starting" in app.log_text()


def test_closing_the_window_through_webdriver_ends_the_app(app):
    """WebDriver's Close Window (what a session's end does to its last window) makes WebKit ask
    the webview to close. wry answers that by destroying the webview and nothing else, which can
    leave the app running with an empty window; the app now closes the window with it
    (webview.rs). Here WebKitWebDriver also ends the browser process it started once its last
    window is closed; either way the process must end."""
    pid = poll(app.pid, 20, "the app's process")
    try:
        app.d.close()
    except Exception:  # the browsing context may be gone before WebDriver answers
        pass
    poll(lambda: not running(pid), 60, "the app's process to end after its window was closed")
    try:
        app.d.quit()
    except Exception:
        pass
    app.d = None


def running(pid):
    """Whether pid is a live process (a zombie waiting for its parent is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
