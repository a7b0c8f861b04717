"""End-to-end: team mode on one Keyward Server (tests/e2e/team_harness.py: a real PostgreSQL, a
kinde-sandbox and keyward-server on loopback, members alice and bob (operators) and carol
(viewer)).

- the CLI with carol's token: a revoke is refused with `forbidden` (exit 11) naming the role it
  needs, the key stays active, and the refusal is in the team's audit log under carol's name;
- last: no secret of the run (`team.secrets`: the tokens, the Kinde client secret, and every key
  secret a test adds) is in the server's database dump or its log.
- the app, three instances at once (each its own HOME, KEYWARD_HOME, session bus and Secret
  Service): the Connect screen's Keyward Server choice (a bad URL and a bad token each an error at
  its field; the good token shows the member and role); operator alice rotates a key in her window
  and bob's window shows the new key within 5 s (polled), with alice's name in bob's audit screen
  and no drift alert on the server; viewer carol's window has Revoke disabled with the reason.

Run with: flock /tmp/keyward-e2e.lock env E2E_NO_BUILD=1 E2E_NO_SCALE=1 scripts/e2e.sh \
tests/e2e/test_team.py
"""

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

from conftest import ART, SHOTS
from harness import start_tauri_driver, wait_port
from team_harness import EMPTY_API_ID, EMPTY_ORG_CODE, TeamServer, server_bin

APP = os.environ.get("KEYWARD_APP", "")


@pytest.fixture(scope="module")
def team():
    """One running team for the module's tests (see team_harness.TeamServer)."""
    with TeamServer(keys=3, sync_interval=1) as t:
        t.wait_keys(3)
        yield t


def test_cli_revoke_with_a_viewers_token_is_forbidden(team):
    team.cli_profile("carol")
    key = team.wait_keys(3)[0]
    r = team.cli(["--json", "keys", "revoke", key["id"], "--yes"], member="carol")
    assert r.returncode == 11, f"exit {r.returncode}: {r.stderr}"
    err = json.loads(r.stderr.strip().splitlines()[-1])
    assert err["code"] == "forbidden", err
    assert "operator" in err["message"], err
    assert err["hint"], err

    # The key is untouched, and the refusal is audited under carol's name.
    status, view = team.op("key_show", {"id": key["id"]}, member="alice")
    assert status == 200, view
    assert view["status"] == "active", view
    status, rows = team.op("audit_list", {"filter": {}}, member="alice")
    assert status == 200, rows
    assert any(r["action"] == "denied" and r["actor"] == "carol" for r in rows), rows


# --- the app, one instance per member ---------------------------------------------------------

def tid(name: str) -> str:
    return f'[data-testid="{name}"]'


# Counts, on every change of the sync status line, the states it passed through.
WATCH_SYNC_STATUS = """
const root = document.querySelector('[data-testid="sync-status"]');
const seen = window.__syncWatch = {running: 0, cancel: 0, enabledWhileRunning: 0, buttonMissing: 0};
const look = () => {
  if (root.getAttribute('data-running') !== 'true') return;
  seen.running += 1;
  if (root.querySelector('[data-testid="sync-cancel"]')) seen.cancel += 1;
  const b = root.querySelector('[data-testid="sync-button"]');
  if (!b) seen.buttonMissing += 1; else if (!b.disabled) seen.enabledWhileRunning += 1;
};
new MutationObserver(look).observe(root, {attributes: true, childList: true, subtree: true});
"""


def poll(cond, timeout, what):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # a stale element while the window re-renders
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} ({last})")


class Member:
    """One Keyward window for one member: a private home, KEYWARD_HOME and session bus with an
    unlocked Secret Service (gnome-keyring) for the token, and its own tauri-driver."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"keyward-team-{name}.")
        self.home = os.path.join(self.dir, "home")
        self.kw_home = os.path.join(self.dir, "keyward-home")
        os.makedirs(os.path.join(self.home, ".cache"))
        os.makedirs(self.kw_home)
        self.bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                    stdout=subprocess.PIPE, text=True)
        address = self.bus.stdout.readline().strip()
        assert address, "dbus-daemon gave no address"
        self.env = dict(os.environ)
        self.env.update({
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_DATA_HOME": os.path.join(self.home, ".local/share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "XDG_RUNTIME_DIR": self.dir,
            "KEYWARD_HOME": self.kw_home,
            "DBUS_SESSION_BUS_ADDRESS": address,
        })
        for k in ("KEYWARD_TOKEN", "KEYWARD_CLIENT_SECRET"):
            self.env.pop(k, None)
        subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input=b"e2e",
                       env=self.env, capture_output=True, timeout=30, check=True)
        self.drv_log = open(os.path.join(ART, f"team-{name}-tauri-driver.log"), "w")
        self.drv, port = start_tauri_driver(self.drv_log, self.env)
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": APP})
        self.d = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=opts)

    def find(self, name, timeout=20.0):
        def look():
            els = self.d.find_elements(By.CSS_SELECTOR, tid(name))
            return els[0] if els and els[0].is_displayed() else None
        return poll(look, timeout, f"{name} in {self.name}'s window")

    def click(self, name, timeout=20.0):
        """Finds, waits for enabled and clicks, finding again when the window re-rendered the
        element in between (on a team profile the server's sync, every second in these tests,
        swaps Sync for Cancel and back: a found button can be gone when clicked)."""
        def attempt():
            el = self.find(name, timeout)
            if not el.is_enabled():
                return None
            el.click()
            return el
        return poll(attempt, timeout, f"{name} enabled and clicked in {self.name}'s window")

    def type(self, name, text):
        el = self.find(name)
        el.clear()
        el.send_keys(text)

    def shot(self, name, keep=False):
        self.d.get_screenshot_as_png()  # WebKitWebDriver hands back the previous frame: flush it
        time.sleep(0.3)
        self.d.save_screenshot(os.path.join(ART, f"team-{self.name}-{name}.png"))
        if keep and SHOTS:
            os.makedirs(SHOTS, exist_ok=True)
            self.d.save_screenshot(os.path.join(SHOTS, f"{name}.png"))

    def connect(self, team, check_errors=False):
        """The Connect screen's Keyward Server choice, with this member's token; answers the
        member line the test showed."""
        self.click("welcome-connect-server")
        self.find("connect-kind-server")
        assert self.find("connect-form").get_attribute("data-kind") == "server"
        token = self.find("connect-token")
        assert token.get_attribute("type") == "password"
        if check_errors:
            # http to a host that is not loopback: refused at the URL field, nothing sent.
            self.type("connect-server", "http://keyward.example.com")
            self.type("connect-token", team.tokens[self.name])
            self.click("connect-test")
            err = self.find("field-error-server")
            assert "https" in err.text, err.text
            assert self.find("connect-server").get_attribute("aria-invalid") == "true"
            # A wrong token: the server's 401 at the token field.
            self.type("connect-server", team.base_url)
            self.type("connect-token", "kwp_not_a_member_token")
            self.click("connect-test")
            err = self.find("field-error-token")
            assert "token" in err.text.lower(), err.text
            assert not self.d.find_elements(By.CSS_SELECTOR, tid("connect-member"))
            # Nothing was saved.
            assert not os.path.exists(os.path.join(self.kw_home, "config", "config.toml")) or \
                "server" not in open(os.path.join(self.kw_home, "config", "config.toml")).read()
        self.type("connect-server", team.base_url)
        self.type("connect-token", team.tokens[self.name])
        self.click("connect-test")
        member = self.find("connect-member")
        assert self.find("connect-member-name").text == self.name
        assert self.find("connect-member-role").text == team.roles[self.name]
        if check_errors:
            self.shot("team-connect", keep=True)
        self.click("connect-save")
        want = f"{self.name} · {team.roles[self.name]}"
        poll(lambda: self.find("team-member", 30).get_attribute("textContent").strip() == want, 10,
             f"{want!r} in the header")
        assert self.find("team-member").get_attribute("data-role") == team.roles[self.name]
        return member

    def row(self, key_id):
        els = self.d.find_elements(By.CSS_SELECTOR, f'[data-testid="key-row"][data-key-id="{key_id}"]')
        return els[0] if els else None

    def row_html(self, key_id):
        """The key's row as the table renders it (its Key cell's title is the masked key, with
        the secret's suffix); '' while the row is not there."""
        r = self.row(key_id)
        return r.get_attribute("innerHTML") if r is not None else ""

    def open_key(self, key_id):
        self.click("nav-keys")
        poll(lambda: self.row(key_id), 30, f"{key_id} in {self.name}'s keys")
        self.row(key_id).click()
        self.find("key-detail")

    def close(self):
        try:
            self.d.quit()
        except Exception:  # the app may already be gone
            pass
        self.drv.terminate()
        try:
            self.drv.wait(10)
        except subprocess.TimeoutExpired:
            self.drv.kill()
        self.drv_log.close()
        self.bus.terminate()
        try:
            self.bus.wait(10)
        except subprocess.TimeoutExpired:
            self.bus.kill()
        for log in glob.glob(os.path.join(self.home, ".local/share", "*", "logs", "*.log")):
            shutil.copy(log, os.path.join(ART, f"team-{self.name}-{os.path.basename(log)}"))
        shutil.rmtree(self.dir, ignore_errors=True)


def suffix_of(team, key_id):
    status, body = team.op("keys_changed_since", {"since_rev": 0})
    assert status == 200, body
    return next(k["key_suffix"] for k in body["keys"] if k["id"] == key_id)


def test_app_team_mode_connect_roles_and_live_deltas(team):
    assert APP, "KEYWARD_APP is not set"
    keys = team.wait_keys(3)
    key_id = sorted(k["id"] for k in keys)[0]
    members = {}
    try:
        a = members["alice"] = Member("alice")
        a.connect(team, check_errors=True)
        poll(lambda: a.row(key_id), 30, "the team's keys in alice's window")
        assert a.find("team-mark").text == "TEAM"
        a.shot("team-header", keep=True)

        b = members["bob"] = Member("bob")
        b.connect(team)
        poll(lambda: b.row(key_id), 30, "the team's keys in bob's window")
        old_suffix = suffix_of(team, key_id)
        assert old_suffix in b.row_html(key_id), b.row_html(key_id)

        c = members["carol"] = Member("carol")
        c.connect(team)
        c.open_key(key_id)
        revoke = c.find("revoke-button")
        assert not revoke.is_enabled(), "a viewer's Revoke is enabled"
        why = revoke.get_attribute("title")
        assert why.startswith("Viewers cannot revoke keys"), why
        assert "operator" in why, why
        described = revoke.get_attribute("aria-describedby")
        assert described == "why-keys_revoke", described
        assert c.d.find_element(By.ID, described).get_attribute("textContent") == why
        assert not c.find("rotate-button").is_enabled()
        assert not c.find("sync-button").is_enabled()
        c.shot("team-viewer-revoke-disabled", keep=False)

        # Operator alice rotates the key in her window...
        a.open_key(key_id)
        a.click("rotate-button")
        a.find("confirm-dialog")
        a.click("confirm-button")
        value = a.find("secret-value", 30)
        a.click("secret-reveal")
        secret = poll(lambda: value.text if value.text.startswith("k_live_") else None, 10, "the new secret")
        rotated_at = time.time()
        a.click("secret-done")
        # ...and bob's window shows the new key within 5 s, without a reload (the server's
        # event stream -> sync-state -> keys_changed_since).
        poll(lambda: (lambda h: old_suffix not in h and secret[-len(old_suffix):] in h)(b.row_html(key_id)),
             5, "the rotation in bob's window")
        shown_after = time.time() - rotated_at
        print(f"rotation shown in bob's window {shown_after:.2f} s after alice's rotate answered")
        b.shot("team-bob-after-rotate")

        # Alice's name in bob's audit screen.
        b.click("nav-audit")
        b.find("audit-table")
        poll(lambda: any(r.get_attribute("data-action") == "rotate" and "alice" in r.find_element(By.CSS_SELECTOR, tid("audit-actor")).text
                         for r in b.d.find_elements(By.CSS_SELECTOR, tid("audit-row"))), 15, "alice's rotate in bob's audit")
        b.shot("team-bob-audit")

        # While the server's own syncs run (every second here), alice's status line shows them
        # running, but offers no Cancel (it could not stop the server's sync) and keeps Sync in
        # its place, disabled: a MutationObserver in her window records every change.
        a.d.execute_script(WATCH_SYNC_STATUS)

        # A teammate's rotate is never drift: the server syncs every second; after a few of
        # them, no drift alert for the key.
        time.sleep(4)
        seen = a.d.execute_script("return window.__syncWatch")
        print(f"alice's sync status line while the server synced for 4 s: {seen}")
        assert seen["running"] > 0, f"no server sync seen running in alice's window in 4 s: {seen}"
        assert seen["cancel"] == 0, f"alice's window offered Cancel for the server's sync: {seen}"
        assert seen["enabledWhileRunning"] == 0 and seen["buttonMissing"] == 0, seen
        status, alerts = team.op("alerts_list", {"filter": {"since": None, "kind": None, "key_id": None,
                                                          "include_acknowledged": True, "include_muted": True, "limit": None}})
        assert status == 200, alerts
        drift = [x for x in alerts["alerts"] if x["kind"] == "drift" and x.get("key_id") == key_id]
        assert drift == [], drift

        # Sync now on a team profile asks the server (alice is an operator): it runs there, its
        # progress streamed, and the status line says so.
        status_a = a.find("sync-status")
        before = status_a.get_attribute("data-last-sync")
        a.click("sync-button")
        poll(lambda: a.find("sync-status").get_attribute("data-running") == "false"
             and a.find("sync-status").get_attribute("data-last-sync") != before, 60, "alice's Sync now")
        assert not a.d.find_elements(By.CSS_SELECTOR, tid("toast-error")), "Sync now failed"

        # The server goes away: bob's window says so and keeps its keys; it comes back: the
        # stream resumes by itself.
        team.server.terminate()
        team.server.wait(20)
        poll(lambda: b.find("sync-status").get_attribute("data-offline") == "true", 20, "bob's status line offline")
        assert b.find("sync-offline-text").text == "Server unreachable, retrying…"
        assert b.row(key_id) is not None or b.find("audit-table")
        b.shot("team-server-unreachable")
        log = open(team.server_log, "a")
        team.server = subprocess.Popen([server_bin(), "serve"], env=team._server_env(), cwd=team.work,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_port(team.port, 60)
        poll(lambda: b.find("sync-status").get_attribute("data-offline") == "false", 60, "bob's status line back online")
    finally:
        for m in members.values():
            m.close()


def test_cli_create_and_rotate_as_an_operator_name_the_member(team):
    team.cli_profile("bob")
    args = ["--json", "keys", "create", "--name", "e2e team key", "--api", EMPTY_API_ID,
            "--scope", "read:data", "--org", EMPTY_ORG_CODE]
    r = team.cli(args, member="bob")
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    team.secrets.append(created["key"])
    r = team.cli(["keys", "rotate", created["id"], "--yes"], member="bob")
    assert r.returncode == 0, r.stderr
    team.secrets.append(r.stdout.strip())
    status, rows = team.op("audit_list", {"filter": {"key_id": created["id"]}}, member="carol")
    assert status == 200, rows
    assert {(r["action"], r["actor"]) for r in rows} >= {("create", "bob"), ("rotate", "bob")}, rows


# Keep last in this file: it searches for every secret the tests above saw.
def test_zz_no_secret_in_the_servers_database_or_log(team):
    dump, log = team.pg_dump(), team.log()
    assert "CREATE TABLE public.members" in dump, "the dump is the server's"
    assert "operation" in log, "the server's log was kept"
    for s in team.secrets:
        assert s not in dump, "a secret in the server's database"
        assert s not in log, "a secret in the server's log"
