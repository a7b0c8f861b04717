"""End-to-end: the real Keyward binary in a real WebKit webview, step by step.

The steps share one app session and run in order: first run (a bad domain at its field; a
profile with a wrong secret saved anyway, repaired from Settings, then removed) -> demo -> list and search ->
detail with chart -> create (secret once) -> rotate -> re-issue -> revoke -> bulk revoke ->
doctor (pasted with "Bearer " and a newline; then a revoked key) -> sync with progress -> audit ->
alerts (the demo's watchtower script) -> leak scan -> CSP -> command palette -> shortcuts help ->
About (open the data folder) -> axe-core on every screen, light and dark -> a second launch
(single instance) -> leave demo -> close the window (its size and place saved).
Then the secret-hygiene check: no file under KEYWARD_HOME or the scratch HOME (the log folder
included, whose log file must exist) holds a secret that was shown.
"""

import atexit
import glob
import json
import os
import subprocess
import time

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from conftest import ART, SHOTS
from harness import free_port, wait_port

SHOWN_SECRETS: list[str] = []
STATE: dict = {}
STEP = [0]

# "Open data folder" runs the desktop's opener (xdg-open). Under Xvfb there is no desktop: a
# stand-in first on PATH records what it was asked to open. The app inherits this PATH.
FAKE_BIN = os.path.join(ART, "fakebin")
OPENED = os.path.join(ART, "xdg-open.calls")
os.makedirs(FAKE_BIN, exist_ok=True)
with open(os.path.join(FAKE_BIN, "xdg-open"), "w") as _f:
    _f.write(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{OPENED}"\n')
os.chmod(os.path.join(FAKE_BIN, "xdg-open"), 0o755)
os.environ["PATH"] = FAKE_BIN + os.pathsep + os.environ.get("PATH", "")


def tid(name: str) -> str:
    return f'[data-testid="{name}"]'


def find(d, name, timeout=20.0):
    return wait(d, lambda: first(d, name), timeout, f"{name} to appear")


def first(d, name):
    els = d.find_elements(By.CSS_SELECTOR, tid(name))
    return els[0] if els and els[0].is_displayed() else None


def gone(d, name):
    return not d.find_elements(By.CSS_SELECTOR, tid(name))


def wait(d, cond, timeout=20.0, what="condition"):
    end = time.time() + timeout
    last_err = None
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except (StaleElementReferenceException, WebDriverException) as e:
            last_err = e
        time.sleep(0.15)
    shot(d, f"timeout-{what.replace(' ', '-')[:40]}")
    raise AssertionError(f"timed out waiting for {what} ({last_err})")


def click(d, name, timeout=20.0):
    """Finds, waits for enabled and clicks; finds again when a re-render replaced the element
    between the find and the click (a stale reference is retried, not a failure)."""
    def attempt():
        el = find(d, name, timeout)
        if not el.is_enabled():
            return None
        el.click()
        return el
    return wait(d, attempt, timeout, f"{name} to be enabled and clicked")


def shot(d, name, keep=False):
    STEP[0] += 1
    # WebKitWebDriver hands back the frame of the previous request: take one to flush it.
    d.get_screenshot_as_png()
    time.sleep(0.3)
    d.save_screenshot(os.path.join(ART, f"{STEP[0]:02d}-{name}.png"))
    if keep and SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        d.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def row_count(d) -> int:
    return int(find(d, "keys-table").get_attribute("data-count"))


def choose_owner_and_scope(d):
    """In the create dialog: the first owner listed and the API's first scope (nothing is
    chosen for the admin)."""
    d.find_elements(By.CSS_SELECTOR, tid("owner-option"))[0].click()
    d.find_elements(By.CSS_SELECTOR, tid("create-key-scope"))[0].click()
    wait(d, lambda: find(d, "create-key-submit").is_enabled(), 5, "Create to be enabled")


def take_secret(d, tag):
    """Reads the one-time secret (reveal), copies it, then Done; returns it."""
    value = find(d, "secret-value")
    assert value.get_attribute("data-revealed") == "false", "the secret must be masked by default"
    assert "•" in value.text
    click(d, "secret-reveal")
    secret = wait(d, lambda: value.text if value.text.startswith("k_live_") else None, 5, "revealed secret")
    click(d, "secret-copy")
    find(d, "secret-countdown", 5)
    shot(d, f"secret-{tag}")
    click(d, "secret-done")
    wait(d, lambda: gone(d, "secret-value"), 5, "secret panel to close")
    SHOWN_SECRETS.append(secret)
    return secret


def nav(d, name):
    click(d, f"nav-{name}")


def open_key_by_search(d, text):
    nav(d, "keys")
    search = find(d, "key-search")
    search.clear()
    search.send_keys(text)
    wait(d, lambda: find(d, "keys-table").get_attribute("data-window-search") == text and row_count(d) >= 1, 10, f"a row for {text}")
    rows = d.find_elements(By.CSS_SELECTOR, tid("key-row"))
    rows[0].click()
    find(d, "key-detail")


def test_first_run_connect_form_tests_the_connection(driver):
    d = driver
    find(d, "welcome-demo", 60)
    shot(d, "welcome", keep=True)
    click(d, "welcome-connect")
    find(d, "connect-domain").send_keys("http://127.0.0.1:9")
    find(d, "connect-client-id").send_keys("m2m_client")
    find(d, "connect-secret").send_keys("not-a-real-secret")
    click(d, "connect-test")
    report = find(d, "connect-report", 60)
    result = report.find_element(By.CSS_SELECTOR, tid("doctor-result"))
    assert result.get_attribute("data-verdict") == "fail", report.text
    assert d.find_elements(By.CSS_SELECTOR, '[data-testid="doctor-step"][data-ok="false"]')
    shot(d, "connect-test")
    # Back to the two choices without saving anything.
    [b for b in d.find_elements(By.CSS_SELECTOR, ".btn.ghost") if b.text.strip() == "Cancel"][0].click()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX: dict = {}


def standalone_sandbox() -> str:
    """The kinde-sandbox binary on a free loopback port, with only its fixtures (its M2M app
    with every scope: sandbox_admin / sandbox_admin_secret). Answers its base URL."""
    if "url" not in SANDBOX:
        exe = os.path.join(ROOT, "target", "debug", "kinde-sandbox")
        if not os.path.exists(exe):
            subprocess.run(["cargo", "build", "-q", "-p", "kinde-sandbox"], cwd=ROOT, check=True)
        port = free_port()
        log = open(os.path.join(ART, "standalone-sandbox.log"), "w")
        proc = subprocess.Popen([exe, "--listen", f"127.0.0.1:{port}", "--seed", "empty"], stdout=log, stderr=subprocess.STDOUT)
        atexit.register(proc.terminate)
        wait_port(port)
        SANDBOX.update(url=f"http://127.0.0.1:{port}", proc=proc)
    return SANDBOX["url"]


def secret_service():
    """A Secret Service (gnome-keyring, unlocked) on the run's private D-Bus session, so that a
    saved profile's secret goes to an OS keyring as it does on a desktop."""
    if SANDBOX.get("keyring"):
        return
    env = dict(os.environ)
    env.setdefault("XDG_RUNTIME_DIR", os.environ["HOME"])
    subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input=b"e2e", env=env,
                   capture_output=True, timeout=30, check=True)
    SANDBOX["keyring"] = True


def fill_connect(d, domain, client_id, secret):
    for name, value in (("connect-domain", domain), ("connect-client-id", client_id), ("connect-secret", secret)):
        el = find(d, name)
        el.clear()
        el.send_keys(value)


def no_error_toast(d):
    assert not d.find_elements(By.CSS_SELECTOR, tid("toast-error")), "the error is shown where it happened, not again in a toast"


def axe_clean(d, where):
    """axe-core on a screen only a first run shows; asserted here, not counted among the
    every-screen test's findings."""
    bad = axe(d, where)
    AXE_FINDINGS.pop(where, None)
    assert not bad, bad


def test_bad_domain_is_reported_at_the_domain_field(driver):
    d = driver
    click(d, "welcome-connect")
    fill_connect(d, "a..b", "m2m_client", "not-a-real-secret")
    click(d, "connect-test")
    err = find(d, "field-error-domain", 20)
    text = err.text
    assert "domain" in text.lower(), text
    assert "`" not in text and "invalid_input" not in text, f"words, not backticks or the code: {text}"
    assert find(d, "connect-domain").get_attribute("aria-invalid") == "true"
    assert gone(d, "connect-report") and gone(d, "connect-error"), "the error is at the field only"
    no_error_toast(d)
    shot(d, "connect-bad-domain")
    axe_clean(d, "light: connect form, bad domain")
    # Editing the field clears its error.
    find(d, "connect-domain").send_keys(Keys.BACKSPACE)
    wait(d, lambda: gone(d, "field-error-domain"), 5, "the domain error to clear")
    [b for b in d.find_elements(By.CSS_SELECTOR, ".btn.ghost") if b.text.strip() == "Cancel"][0].click()


def test_repair_a_profile_with_a_wrong_secret(driver):
    d = driver
    secret_service()
    url = standalone_sandbox()
    click(d, "welcome-connect")
    fill_connect(d, url, "sandbox_admin", "a-wrong-secret")
    click(d, "connect-save")  # tests first
    result = find(d, "connect-report", 60).find_element(By.CSS_SELECTOR, tid("doctor-result"))
    assert result.get_attribute("data-verdict") == "fail"
    save = find(d, "connect-save")
    wait(d, lambda: not save.is_enabled(), 5, "Save to stay disabled after a failed test")
    shot(d, "connect-failed-save-disabled")
    # The admin saves anyway, on purpose: the profile opens and cannot connect.
    click(d, "connect-save-anyway")
    problem = find(d, "profile-problem", 60)
    wait(d, lambda: "refused the client id or the client secret" in problem.text, 10, "the error in words")
    assert "invalid_client" not in problem.text.split("Details")[0], "the code is behind Details"
    no_error_toast(d)
    problem.find_element(By.CSS_SELECTOR, "summary").click()
    wait(d, lambda: "invalid_client" in problem.text, 5, "the raw detail behind Details")
    shot(d, "profile-problem")
    # Settings has the theme: the problem and the edit form read in dark too.
    Select(find(d, "settings-theme")).select_by_value("dark")
    wait(d, lambda: d.execute_script("return document.documentElement.dataset.theme") == "dark", 5, "the dark theme")
    time.sleep(1.0)  # the buttons' colour transitions end
    shot(d, "profile-problem-dark")
    axe_clean(d, "dark: settings, a profile that cannot connect")
    Select(find(d, "settings-theme")).select_by_value("system")
    wait(d, lambda: d.execute_script("return document.documentElement.dataset.theme") is None, 5, "the system theme")
    time.sleep(1.0)
    axe_clean(d, "light: settings, a profile that cannot connect")
    # The profile's own edit form is open: a new secret, and it syncs.
    form = wait(d, lambda: [f for f in d.find_elements(By.CSS_SELECTOR, tid("connect-form")) if f.get_attribute("data-editing") == "true"], 10, "the edit form")[0]
    assert form.find_element(By.CSS_SELECTOR, tid("connect-domain")).get_attribute("value") == url
    form.find_element(By.CSS_SELECTOR, tid("connect-secret")).send_keys("sandbox_admin_secret")
    form.find_element(By.CSS_SELECTOR, tid("connect-save")).click()
    wait(d, lambda: find(d, "sync-status").get_attribute("data-last-sync"), 60, "the repaired profile to sync")
    wait(d, lambda: gone(d, "profile-problem"), 10, "the problem to clear")
    no_error_toast(d)
    shot(d, "profile-repaired")


def test_remove_a_profile(driver):
    d = driver
    nav(d, "settings")
    rows = wait(d, lambda: d.find_elements(By.CSS_SELECTOR, tid("profile-row")), 10, "the profiles")
    assert len(rows) == 1
    click(d, "profile-remove")
    shot(d, "profile-remove-confirm")
    click(d, "profile-remove-confirm")
    # The only profile is gone: back to the first run's choices.
    find(d, "welcome-demo", 30)
    find(d, "welcome-connect")


def test_first_run_then_demo(driver):
    d = driver
    find(d, "welcome-demo", 60)
    assert first(d, "welcome-connect") is not None
    click(d, "welcome-demo")
    find(d, "demo-banner", 60)
    wait(d, lambda: row_count(d) > 20, 90, "demo keys to load")
    wait(d, lambda: any(r.text.strip() for r in d.find_elements(By.CSS_SELECTOR, tid("key-row"))), 20, "rows painted")
    assert "DEMO" in find(d, "env-badge").text
    time.sleep(1.0)
    shot(d, "keys-demo", keep=True)


def test_list_and_search(driver):
    d = driver
    total = row_count(d)
    rows = wait(d, lambda: [r for r in d.find_elements(By.CSS_SELECTOR, tid("key-row")) if r.text.strip()], 20, "rows painted")
    assert 0 < len(d.find_elements(By.CSS_SELECTOR, tid("key-row"))) < total or total < 30, "the table is virtualized: only visible rows are in the DOM"
    name = rows[2].find_element(By.CSS_SELECTOR, ".nm").get_attribute("textContent").strip()
    assert name
    search = find(d, "key-search")
    search.send_keys(name)
    wait(d, lambda: 1 <= row_count(d) < total, 10, "search to filter")
    # The search is by terms (every word somewhere in the row), not by phrase: "Inventory sync"
    # also finds "Data warehouse sync" of the Inventory API.
    for r in d.find_elements(By.CSS_SELECTOR, tid("key-row")):
        text = r.get_attribute("textContent").lower()
        assert all(t in text for t in name.lower().split()), (name, text)
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)
    wait(d, lambda: row_count(d) == total, 10, "search cleared")
    # Keyboard: move down the list and open a key with Enter.
    body = d.find_element(By.CSS_SELECTOR, '[data-testid="keys-table"] [role="grid"]')
    d.execute_script("arguments[0].focus()", body)
    body.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ENTER)
    find(d, "key-detail", 10)
    nav(d, "keys")
    wait(d, lambda: row_count(d) == total, 10, "back on the list")


def sync_now(d):
    status = find(d, "sync-status")
    last = status.get_attribute("data-last-sync")
    click(d, "sync-button")
    wait(d, lambda: status.get_attribute("data-running") == "false" and status.get_attribute("data-last-sync") != last, 60, "the sync to finish")


def test_detail_with_chart(driver):
    d = driver
    # A second sync records the traffic since the first one: the chart has something to show.
    time.sleep(3)
    sync_now(d)
    # The busiest active key of the last days first: sort by the 7-day activity (descending).
    find(d, "filter-status").send_keys("Active")
    header = [b for b in d.find_elements(By.CSS_SELECTOR, ".th") if b.get_attribute("textContent").strip().lower().startswith("7 days")]
    header[0].click()
    rows = wait(d, lambda: [r for r in d.find_elements(By.CSS_SELECTOR, tid("key-row")) if r.get_attribute("data-status") == "active"], 10, "active rows")
    rows[0].click()
    find(d, "key-detail")
    chart = find(d, "history-chart")
    assert chart.find_elements(By.CSS_SELECTOR, "svg")
    click(d, "bucket-hour")
    time.sleep(1.0)
    shot(d, "key-detail", keep=True)
    click(d, "bucket-day")
    nav(d, "keys")
    find(d, "filter-status").send_keys("All statuses")


def test_create_shows_secret_once(driver):
    d = driver
    nav(d, "keys")
    click(d, "create-key-button")
    name = find(d, "create-key-name")
    name.send_keys("e2e created key")
    # Nothing is chosen for the admin: no owner, no scope, and Enter in the name does not
    # submit a half-filled form.
    assert "Choose the owner" in find(d, "create-key-for").text
    assert not find(d, "create-key-submit").is_enabled()
    assert not d.find_elements(By.CSS_SELECTOR, tid("create-key-scope") + ":checked")
    name.send_keys(Keys.ENTER)
    time.sleep(0.3)
    assert first(d, "create-key") is not None, "Enter in the name must not submit"
    choose_owner_and_scope(d)
    assert find(d, "create-key-for").text.startswith("For ")
    shot(d, "create-key", keep=True)
    click(d, "create-key-submit")
    secret = take_secret(d, "create")
    assert secret.startswith("k_live_")
    assert gone(d, "secret-panel")
    # It shows up in the list.
    search = find(d, "key-search")
    search.clear()
    search.send_keys("e2e created key")
    wait(d, lambda: row_count(d) == 1, 10, "the new key in the list")
    STATE["created_secret"] = secret


def test_create_takes_the_owner_from_the_filter(driver):
    """With the list filtered to an organization, a new key is that organization's (as Kinde
    creates keys from inside an org's page); cleared, the owner must be chosen again."""
    d = driver
    nav(d, "keys")
    org = find(d, "filter-org")
    options = [o for o in org.find_elements(By.TAG_NAME, "option") if o.get_attribute("value")]
    assert options, "the demo has organizations"
    pick = options[-1]
    org_code, org_name = pick.get_attribute("value"), pick.get_attribute("textContent").strip()
    Select(org).select_by_value(org_code)
    click(d, "create-key-button")
    find(d, "create-key-name")
    chosen = d.find_elements(By.CSS_SELECTOR, tid("owner-option") + '[aria-selected="true"]')
    assert [c.get_attribute("data-owner") for c in chosen] == [f"org:{org_code}"]
    assert find(d, "create-key-for").text.startswith(f"For organization {org_name}")
    find(d, "create-key-name").send_keys(Keys.ESCAPE)
    wait(d, lambda: gone(d, "create-key"), 5, "the dialog to close")
    # No filter: no owner.
    Select(find(d, "filter-org")).select_by_value("")
    click(d, "create-key-button")
    assert "Choose the owner" in find(d, "create-key-for").text
    find(d, "create-key-name").send_keys(Keys.ESCAPE)
    wait(d, lambda: gone(d, "create-key"), 5, "the dialog to close")


def test_rotate(driver):
    d = driver
    open_key_by_search(d, "e2e created key")
    STATE["key_id"] = d.find_element(By.CSS_SELECTOR, '[data-testid="key-detail"] dl.kv dd').get_attribute("textContent").strip()
    assert STATE["key_id"].startswith("api_key_")
    click(d, "rotate-button")
    dialog = find(d, "confirm-dialog")
    # Stripe's choice of how long the old key keeps working; Now (in place) is the default, and
    # the dialog opens on that choice, never on a button.
    lifetime = find(d, "rotate-lifetime")
    assert "Old key stops working" in lifetime.text
    for label in ("Now", "in 1 hour", "in 24 hours", "in 3 days", "in 7 days"):
        assert label in lifetime.text, (label, lifetime.text)
    assert find(d, "rotate-lifetime-now").is_selected()
    wait(d, lambda: active_testid(d) == "rotate-lifetime-now", 5, "the focus on the Now choice")
    assert "stops working at once" in dialog.text
    assert find(d, "confirm-button").text == "Rotate now"
    # A later time: a re-issue whose old key the first sync after the deadline revokes.
    find(d, "rotate-lifetime-24h").click()
    note = find(d, "rotate-later-note", 5)
    assert "keeps working until" in note.text and "UTC" in note.text, note.text
    assert "next sync" in find(d, "rotate-sync-note").text or "first sync" in find(d, "rotate-sync-note").text
    assert find(d, "confirm-button").text == "Roll key"
    shot(d, "rotate-lifetime", keep=True)
    find(d, "rotate-lifetime-now").click()
    wait(d, lambda: "stops working at once" in find(d, "confirm-dialog").text, 5, "back to Now")
    assert first(d, "rotate-reissue-instead") is not None
    shot(d, "rotate-confirm")
    click(d, "confirm-button")
    secret = take_secret(d, "rotate")
    assert secret != STATE["created_secret"]
    STATE["rotated_secret"] = secret
    # The key's page says when Keyward rotated it (not "never" beside the audit's "rotate ok").
    wait(d, lambda: "never" not in find(d, "key-rotated-on").text, 15, "the rotation date")
    assert any(ch.isdigit() for ch in find(d, "key-rotated-on").text)
    wait(d, lambda: any("rotate" in r.text for r in d.find_elements(By.CSS_SELECTOR, tid("key-audit-row"))), 10, "the rotate in the key's audit")
    shot(d, "key-rotated")


def test_reissue(driver):
    d = driver
    click(d, "reissue-button")
    find(d, "reissue-dialog")
    # The new key's name, prefilled by the core's rule, editable, checked like a create name.
    name = find(d, "reissue-name")
    wait(d, lambda: "(re-issued 20" in (name.get_attribute("value") or ""), 10, "the prefilled name")
    assert name.get_attribute("value").startswith("e2e created key (re-issued 20"), name.get_attribute("value")
    name.send_keys(Keys.CONTROL, "a")
    name.send_keys(Keys.BACKSPACE)
    wait(d, lambda: not find(d, "confirm-button").is_enabled(), 5, "Re-issue disabled without a name")
    name.send_keys("e2e created key, re-issued in e2e")
    wait(d, lambda: find(d, "confirm-button").is_enabled(), 5, "Re-issue enabled")
    click(d, "confirm-button")
    # The rotated secret was copied seconds ago. The new key's panel must not say "Copied":
    # the clipboard holds the old key's secret, and the panel says so until this one is copied.
    find(d, "secret-value")
    assert first(d, "secret-countdown") is None, "the countdown belongs to the copied secret"
    if first(d, "clipboard-countdown") is not None:
        other = find(d, "secret-clipboard-other", 5)
        assert "Not copied yet" in other.text and "earlier secret" in other.text
        shot(d, "secret-not-copied-yet")
    secret = take_secret(d, "reissue")
    STATE["reissued_secret"] = secret
    # The re-issue is an open handover until the old key is revoked.
    nav(d, "handovers")
    m = find(d, "handover", 20)
    assert "e2e created key" in m.text
    shot(d, "handovers")
    # The handover names both keys and their masked secrets (what an admin greps configs for;
    # the screen asks the store for those two keys by id, so they may come a moment later).
    wait(d, lambda: "k_live" in find(d, "handover-old-masked").text and "k_live" in find(d, "handover-new-masked").text,
         10, "both keys' masked secrets on the handover")
    # Back to the old one, by its id: its page says it was re-issued and links the new key,
    # whose name tells the two apart.
    open_key_by_search(d, STATE["key_id"])
    wait(d, lambda: STATE["key_id"] in find(d, "key-detail").text, 10, "the old key")
    old_name = find(d, "key-name").get_attribute("textContent").strip()
    to = find(d, "key-reissued-to", 15)
    new_name = find(d, "key-reissued-to-link").get_attribute("textContent").strip()
    assert new_name == "e2e created key, re-issued in e2e" and new_name != old_name, (old_name, new_name)
    assert "Re-issued" in to.text
    shot(d, "key-reissued-to")
    click(d, "key-reissued-to-link")
    wait(d, lambda: find(d, "key-name").get_attribute("textContent").strip() == new_name, 10, "the new key's page")
    back = find(d, "key-reissued-from-link", 15)
    assert back.get_attribute("textContent").strip() == old_name
    shot(d, "key-reissued-from")
    back.click()
    wait(d, lambda: STATE["key_id"] in find(d, "key-detail").text, 10, "the old key again")


def test_revoke(driver):
    d = driver
    click(d, "revoke-button")
    find(d, "confirm-dialog")
    click(d, "confirm-button")
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, '[data-testid="key-detail"] .screen-h [data-status="revoked"]'), 15, "revoked status")
    shot(d, "revoked")


def tab_to(d, testid, most=40, back=False):
    """Tab (or Shift+Tab) until `testid` has the focus; fails after `most` presses."""
    for _ in range(most):
        if active_testid(d) == testid:
            return
        press(d, *((Keys.SHIFT, Keys.TAB) if back else (Keys.TAB,)))
    assert active_testid(d) == testid, f"Tab never reached {testid} (at {active_testid(d)!r})"


def focus_in(d, testid):
    return d.execute_script(f"return !!document.activeElement && !!document.activeElement.closest('[data-testid=\"{testid}\"]')")


def focus_on_destructive(d):
    return d.execute_script("const e = document.activeElement; return !!e && e.tagName === 'BUTTON' && "
                            "(e.classList.contains('danger') || e.getAttribute('data-testid') === 'confirm-button')")


def secret_by_keyboard(d, tag):
    """The one-time secret panel by keyboard: it opens on Copy, Esc cannot dismiss it, Enter
    copies, Tab reaches Done. Returns the key id it shows."""
    find(d, "secret-panel", 30)
    wait(d, lambda: active_testid(d) == "secret-copy", 5, "the focus on Copy")
    press(d, Keys.ESCAPE)
    time.sleep(0.3)
    assert first(d, "secret-panel") is not None, "Esc must not dismiss the masked secret"
    assert find(d, "secret-value").get_attribute("data-revealed") == "false"
    key_id = d.execute_script("return [...document.querySelectorAll('[data-testid=\"secret-panel\"] dl.kv dd')][0].textContent.trim()")
    press(d, Keys.ENTER)
    find(d, "secret-countdown", 5)
    # Reveal (Shift+Tab, Enter) so that the hygiene check looks for this secret too.
    tab_to(d, "secret-reveal", 4, back=True)
    press(d, Keys.ENTER)
    value = find(d, "secret-value")
    SHOWN_SECRETS.append(wait(d, lambda: value.text if value.text.startswith("k_live_") else None, 5, "revealed secret"))
    shot(d, f"keyboard-secret-{tag}")
    tab_to(d, "secret-done", 8)
    press(d, Keys.ENTER)
    wait(d, lambda: gone(d, "secret-panel"), 5, "the secret panel to close")
    return key_id


def test_keyboard_only_create(driver):
    """N opens Create; the name is typed (Enter there does not submit); Tab reaches the owner
    (searched, then Space) and the scopes (Space ticks one); Tab to Create and Enter. The secret
    panel opens on Copy, Esc cannot dismiss it, and Done puts the focus on the new key's row."""
    d = driver
    nav(d, "keys")
    clear_search(d)
    d.execute_script("document.activeElement && document.activeElement.blur()")
    press(d, "n")
    find(d, "create-key", 5)
    wait(d, lambda: active_testid(d) == "create-key-name", 5, "the focus in the name")
    press(d, "Keyboard only key")
    press(d, Keys.ENTER)
    time.sleep(0.3)
    assert first(d, "create-key") is not None, "Enter in the name must not submit"
    assert not focus_on_destructive(d)
    press(d, Keys.TAB)
    assert active_testid(d) == "owner-search", active_testid(d)
    owner = d.find_elements(By.CSS_SELECTOR, tid("owner-option"))[0]
    code = owner.get_attribute("data-owner").split(":", 1)[1]
    press(d, code)
    wait(d, lambda: len(d.find_elements(By.CSS_SELECTOR, tid("owner-option"))) >= 1, 5, "the owner found")
    press(d, Keys.TAB)
    assert active_testid(d) == "owner-option", active_testid(d)
    press(d, Keys.SPACE)
    wait(d, lambda: find(d, "create-key-for").text.startswith("For "), 5, "the owner chosen")
    tab_to(d, "create-key-scope", 12)
    press(d, Keys.SPACE)
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, tid("create-key-scope") + ":checked"), 5, "a scope ticked")
    wait(d, lambda: find(d, "create-key-submit").is_enabled(), 5, "Create enabled")
    tab_to(d, "create-key-submit", 10)
    shot(d, "keyboard-create")
    press(d, Keys.ENTER)
    key_id = secret_by_keyboard(d, "create")
    assert key_id.startswith("api_key_"), key_id
    wait(d, lambda: d.execute_script("return document.activeElement.getAttribute('data-key-id')") == key_id, 5,
         "the focus on the new key's row")
    STATE["keyboard_key"] = key_id
    shot(d, "keyboard-create-row")


def test_keyboard_only_roll_with_a_deadline(driver):
    """From the new key's row: Enter opens it; Tab reaches Rotate; the dialog opens on the
    lifetime choice (never on a destructive button); the arrow keys choose "in 24 hours"; Tab
    to Roll key and Enter. The handover shows the deadline."""
    d = driver
    key_id = STATE["keyboard_key"]
    press(d, Keys.ENTER)
    wait(d, lambda: key_id in find(d, "key-detail").text, 10, "the key's page")
    tab_to(d, "rotate-button")
    press(d, Keys.ENTER)
    find(d, "confirm-dialog", 5)
    wait(d, lambda: active_testid(d) == "rotate-lifetime-now", 5, "the focus on the Now choice")
    assert not focus_on_destructive(d)
    press(d, Keys.ARROW_RIGHT)
    press(d, Keys.ARROW_RIGHT)
    wait(d, lambda: find(d, "rotate-lifetime-24h").is_selected(), 5, "in 24 hours chosen")
    assert active_testid(d) == "rotate-lifetime-24h"
    assert "keeps working until" in find(d, "rotate-later-note").text
    axe_clean(d, "rotate dialog, old key in 24 hours")
    tab_to(d, "confirm-button", 6)
    assert find(d, "confirm-button").text == "Roll key"
    press(d, Keys.ENTER)
    new_id = secret_by_keyboard(d, "roll")
    assert new_id != key_id
    # The focus is back in the page (the Rotate button), and the handover has its deadline.
    assert focus_in(d, "key-detail"), active_testid(d)
    nav(d, "handovers")
    cards = wait(d, lambda: [c for c in d.find_elements(By.CSS_SELECTOR, tid("handover")) if "Keyboard only key" in c.text], 20, "the roll's handover")
    deadline = cards[0].find_element(By.CSS_SELECTOR, tid("handover-deadline")).text
    assert "UTC" in deadline and "first sync after" in deadline, deadline
    assert "old key stops in" in cards[0].find_element(By.CSS_SELECTOR, tid("handover-deadline-badge")).text
    d.execute_script("arguments[0].scrollIntoView()", cards[0])
    shot(d, "handover-deadline")
    axe_clean(d, "handovers with a deadline")
    STATE["keyboard_new_key"] = new_id


def test_keyboard_only_revoke_and_a_failed_submit(driver):
    """The old key of the roll is revoked by keyboard: Tab to Revoke, Enter, the dialog opens on
    itself (not on Revoke), Tab to Revoke key, Enter. A submit that fails (a name Kinde would
    refuse) keeps the focus in its dialog, and Esc still closes it."""
    d = driver
    key_id = STATE["keyboard_key"]
    open_key_by_search(d, key_id)
    wait(d, lambda: key_id in find(d, "key-detail").text, 10, "the old key's page")
    d.execute_script("document.activeElement && document.activeElement.blur()")
    # A failed submit: the re-issue dialog with a name that holds a control character.
    tab_to(d, "reissue-button")
    press(d, Keys.ENTER)
    find(d, "reissue-dialog", 5)
    assert focus_in(d, "reissue-dialog") and not focus_on_destructive(d)
    name = find(d, "reissue-name")
    wait(d, lambda: name.get_attribute("value"), 10, "the prefilled name")
    d.execute_script("const i = arguments[0]; i.value = 'Tab\there'; i.dispatchEvent(new Event('input', {bubbles: true}))", name)
    tab_to(d, "confirm-button", 10)
    press(d, Keys.ENTER)
    find(d, "reissue-name-error", 15)
    wait(d, lambda: focus_in(d, "reissue-dialog"), 5, "the focus to stay in the dialog")
    shot(d, "keyboard-failed-submit")
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "reissue-dialog"), 5, "Esc to close the dialog")
    # The revoke.
    tab_to(d, "revoke-button")
    press(d, Keys.ENTER)
    find(d, "confirm-dialog", 5)
    assert focus_in(d, "confirm-dialog"), active_testid(d)
    assert not focus_on_destructive(d), active_testid(d)
    tab_to(d, "confirm-button", 6)
    assert "Revoke" in find(d, "confirm-button").text
    press(d, Keys.ENTER)
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, '[data-testid="key-detail"] .screen-h [data-status="revoked"]'), 15, "revoked status")
    wait(d, lambda: gone(d, "confirm-dialog"), 5, "the dialog to close")
    # Revoking the old key closes its handover; the new key is untouched.
    nav(d, "handovers")
    time.sleep(1.0)
    assert not [c for c in d.find_elements(By.CSS_SELECTOR, tid("handover")) if "Keyboard only key" in c.text]


def test_bulk_revoke(driver):
    d = driver
    nav(d, "keys")
    search = find(d, "key-search")
    search.clear()
    sel = find(d, "filter-status")
    sel.send_keys("Active")

    def active_rows():
        rows = d.find_elements(By.CSS_SELECTOR, tid("key-row"))
        return row_count(d) > 3 and rows and all(r.get_attribute("data-status") == "active" for r in rows)

    wait(d, active_rows, 10, "active keys")
    # Two of the demo's own keys: never the keys this run created, which later tests use (the
    # re-issued one is pasted into the doctor and must still be active there).
    # The ids and texts are read in one script (the windowed table reuses its row elements
    # when a late answer repaints it), and each checkbox is found by its key's id.
    shown_rows = d.execute_script(
        "return [...document.querySelectorAll('[data-testid=\"key-row\"]')]"
        ".map(r => [r.dataset.keyId, r.dataset.status, r.textContent.toLowerCase()]);")
    ours = {STATE.get("key_id"), STATE.get("keyboard_key"), STATE.get("keyboard_new_key")}
    ids = [i for i, status, text in shown_rows if status == "active" and "e2e" not in text and i not in ours]
    assert len(ids) >= 2, "two active demo keys on screen"
    for i in ids[:2]:
        d.find_element(By.CSS_SELECTOR, f'[data-testid="key-row"][data-key-id="{i}"] input[type=checkbox]').click()
    click(d, "bulk-revoke-button")
    find(d, "confirm-dialog")
    confirm = d.find_element(By.CSS_SELECTOR, tid("confirm-button"))
    assert not confirm.is_enabled(), "bulk revoke needs the count typed"
    # The dialog lists what it revokes, as a single revoke does: name, suffix, owner, last use.
    listed = d.find_elements(By.CSS_SELECTOR, tid("bulk-revoke-key"))
    assert len(listed) == 2, f"the two selected keys are listed: {len(listed)}"
    assert all("k_live" in r.text for r in listed)
    assert not [r.text for r in listed if "e2e" in r.text.lower()], "only the demo's own keys are revoked"
    shot(d, "bulk-revoke-confirm")
    find(d, "confirm-input").send_keys("2")
    click(d, "confirm-button")
    # All revoked: one toast, no second dialog to dismiss.
    wait(d, lambda: any("2 keys revoked" in e.text for e in d.find_elements(By.CSS_SELECTOR, tid("toast-success"))), 30, "the revoked toast")
    assert gone(d, "revoke-summary") and gone(d, "confirm-dialog")
    shot(d, "bulk-revoke-done")
    sel.send_keys("All statuses")


def test_doctor_on_pasted_key_and_revoked_key(driver):
    d = driver
    nav(d, "doctor")
    box = find(d, "doctor-input")
    box.send_keys("Bearer " + STATE["reissued_secret"] + "\n")
    click(d, "doctor-run")
    result = find(d, "doctor-result", 30)
    text = result.text.lower()
    assert "bearer" in text
    steps = d.find_elements(By.CSS_SELECTOR, tid("doctor-step"))
    assert len(steps) >= 3
    assert result.get_attribute("data-verdict") == "ok", result.text
    # The pasted secret leaves the screen: the input is cleared, only its masked form stays.
    assert box.get_attribute("value") == ""
    assert STATE["reissued_secret"] not in d.find_element(By.TAG_NAME, "body").text
    assert STATE["reissued_secret"][-4:] in find(d, "doctor-checked").text
    shot(d, "doctor", keep=True)
    # A revoked key: the ladder says so.
    box.clear()
    box.send_keys(STATE["rotated_secret"])
    click(d, "doctor-run")
    wait(d, lambda: "revoked" in find(d, "doctor-result").text.lower(), 30, "a revoked verdict")
    assert find(d, "doctor-result").get_attribute("data-verdict") == "fail"
    shot(d, "doctor-revoked")


def test_sync_with_progress(driver):
    d = driver
    status = find(d, "sync-status")
    before = int(status.get_attribute("data-progress-events") or 0)
    last = status.get_attribute("data-last-sync")
    click(d, "sync-button")
    wait(d, lambda: status.get_attribute("data-running") == "false" and status.get_attribute("data-last-sync") != last, 60, "the sync to finish")
    after = int(status.get_attribute("data-progress-events") or 0)
    assert after > before, "progress messages arrive over the channel"
    shot(d, "after-sync")


def test_audit_shows_actions(driver):
    d = driver
    nav(d, "audit")
    find(d, "audit-table")
    wait(d, lambda: len(d.find_elements(By.CSS_SELECTOR, tid("audit-row"))) >= 4, 15, "audit rows")
    actions = {r.get_attribute("data-action") for r in d.find_elements(By.CSS_SELECTOR, tid("audit-row"))}
    for a in ("create", "rotate", "reissue", "revoke"):
        assert any(a in x for x in actions), f"{a} missing from audit: {actions}"
    # Every row of the suite's key names it (rotate and revoke included), with its masked secret
    # (the screen asks the store for the keys its rows name, by id: they may come a moment later).
    def ours():
        return [r for r in d.find_elements(By.CSS_SELECTOR, tid("audit-row"))
                if r.get_attribute("data-action") in ("rotate", "revoke", "reissue")
                and STATE["key_id"] in (r.find_element(By.CSS_SELECTOR, "td[title]").get_attribute("title") or "")]
    assert ours(), "the suite's key has audit rows"
    wait(d, lambda: all("k_live" in r.find_element(By.CSS_SELECTOR, tid("audit-key-masked")).text for r in ours()), 10,
         "the masked secret on every row of the suite's key")
    for r in ours():
        assert r.find_element(By.CSS_SELECTOR, tid("audit-key-name")).text.startswith("e2e created key"), r.text
        assert "k_live" in r.find_element(By.CSS_SELECTOR, tid("audit-key-masked")).text, r.text
    shot(d, "audit", keep=True)
    nav(d, "insights")
    find(d, "insights")
    time.sleep(1.0)
    shot(d, "insights", keep=True)


ALERT_KINDS = ("new_ip", "dormant_wakes", "spike", "drift", "canary_tripped")


def alert_kinds(d):
    return {r.get_attribute("data-kind") for r in d.find_elements(By.CSS_SELECTOR, tid("alert-row"))}


def test_alerts_screen_lists_the_demo_alerts_and_acknowledge_works(driver):
    """The demo's watchtower script (a new IP, a dormant key waking, a spike, changes
    made "in the portal", the canary touched; paced by KEYWARD_DEMO_SCRIPT_STEP_MS) raises each
    event kind; the navigation counts them, the keys table badges them, acknowledge works and
    a desktop notification went out."""
    d = driver
    nav(d, "alerts")
    find(d, "alerts-screen")
    end = time.time() + 120
    while time.time() < end and not set(ALERT_KINDS) <= alert_kinds(d):
        sync_now(d)
        time.sleep(1.0)
    kinds = alert_kinds(d)
    assert set(ALERT_KINDS) <= kinds, f"missing alert kinds: {set(ALERT_KINDS) - kinds}"
    count = find(d, "nav-alerts-count")
    open_before = int(count.text.replace("+", ""))
    assert open_before >= len(ALERT_KINDS)
    assert int(count.get_attribute("data-high")) >= 1, "the canary alert is critical"
    canary = [r for r in d.find_elements(By.CSS_SELECTOR, tid("alert-row")) if r.get_attribute("data-kind") == "canary_tripped"][0]
    assert canary.get_attribute("data-severity") == "critical"
    assert "192.0.2.200" in canary.text, "the evidence (the IP that touched the canary) is shown"
    # The most severe first, then the newest: the critical canary heads the list.
    rank = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
    order = [rank[r.get_attribute("data-severity")] for r in d.find_elements(By.CSS_SELECTOR, tid("alert-row"))]
    assert order == sorted(order, reverse=True), f"alerts not by severity: {order[:20]}"
    assert order[0] == 4
    shot(d, "alerts", keep=True)
    # A desktop notification was handed to the desktop for the new alerts (tauri-plugin-notification).
    wait(d, lambda: int(find(d, "notify-state").get_attribute("data-sent") or 0) >= 1, 10, "a desktop notification")
    # Acknowledge an open alert (not the canary's): it leaves the open list and the count drops.
    rows_before = len(d.find_elements(By.CSS_SELECTOR, tid("alert-row")))
    row = [r for r in d.find_elements(By.CSS_SELECTOR, tid("alert-row")) if r.get_attribute("data-kind") == "spike"][0]
    row.find_element(By.CSS_SELECTOR, tid("alert-ack")).click()
    wait(d, lambda: len(d.find_elements(By.CSS_SELECTOR, tid("alert-row"))) == rows_before - 1, 10, "the acknowledged alert to leave the list")
    wait(d, lambda: int(find(d, "nav-alerts-count").text.replace("+", "")) == open_before - 1, 10, "the count to drop")
    click(d, "alerts-show-acked")
    wait(d, lambda: any(r.get_attribute("data-acked") == "true" for r in d.find_elements(By.CSS_SELECTOR, tid("alert-row"))), 10, "the acknowledged alert, shown as such")
    click(d, "alerts-show-acked")
    # The keys table and the key detail badge the canary.
    nav(d, "keys")
    search = find(d, "key-search")
    search.clear()
    search.send_keys("Canary: finance")
    wait(d, lambda: row_count(d) == 1, 10, "the canary key")
    row = find(d, "key-row")
    assert row.find_elements(By.CSS_SELECTOR, tid("key-alert-badge")), "an alert badge on the row"
    assert "canary" in row.text
    row.click()
    find(d, "key-detail")
    find(d, "key-canary-badge")
    find(d, "key-detail-alert-badge")
    assert d.find_elements(By.CSS_SELECTOR, tid("key-alert")), "the key's alerts in its detail"
    shot(d, "key-canary")
    nav(d, "keys")
    search = find(d, "key-search")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)


def test_scan_screen_finds_a_planted_key_and_rotates_it(driver):
    """Leak triage: a key's secret written into a folder is found, matched to that key
    (masked on screen, .gitignore respected), and one click rotates it and records the leak."""
    import subprocess
    import tempfile

    d = driver
    nav(d, "keys")
    click(d, "create-key-button")
    find(d, "create-key-name").send_keys("e2e leaked key")
    choose_owner_and_scope(d)
    click(d, "create-key-submit")
    secret = take_secret(d, "leaked")
    repo = tempfile.mkdtemp(prefix="keyward-e2e-scan-")
    subprocess.run(["git", "init", "-q", repo], check=False)
    os.makedirs(os.path.join(repo, "config"))
    with open(os.path.join(repo, "config", "app.env"), "w") as f:
        f.write("# billing\nKINDE_API_KEY=" + secret + "\n")
    with open(os.path.join(repo, ".gitignore"), "w") as f:
        f.write("ignored.env\n")
    with open(os.path.join(repo, "ignored.env"), "w") as f:
        f.write(secret + "\n")
    try:
        nav(d, "scan")
        box = find(d, "scan-paths")
        box.clear()
        box.send_keys(repo)
        click(d, "scan-run")
        results = find(d, "scan-results", 30)
        assert results.get_attribute("data-findings") == "1", results.text
        assert results.get_attribute("data-matched") == "1", results.text
        finding = find(d, "scan-finding")
        assert finding.get_attribute("data-unique") == "true"
        assert "e2e leaked key" in finding.text
        assert "app.env" in finding.text and ":2" in finding.text
        assert secret not in d.page_source, "a found secret is shown masked only"
        assert secret[-4:] in finding.text
        shot(d, "scan", keep=True)
        finding.find_element(By.CSS_SELECTOR, tid("scan-rotate")).click()
        dialog = find(d, "confirm-dialog")
        assert "app.env:2" in dialog.text
        click(d, "confirm-button")
        rotated = take_secret(d, "leak-rotated")
        assert rotated != secret
        nav(d, "audit")
        wait(d, lambda: any(r.get_attribute("data-action") == "leak" for r in d.find_elements(By.CSS_SELECTOR, tid("audit-row"))), 15, "the leak in the audit log")
    finally:
        import shutil
        shutil.rmtree(repo, ignore_errors=True)


def test_csp_is_strict_and_nothing_in_the_app_violates_it(driver):
    """No 'unsafe-inline' for styles. Every screen visited so far ran without a
    CSP violation; an inline style attribute and an inline <style> are blocked; CSSOM styling
    (what Svelte's style: directives and the charts use) still works."""
    d = driver
    for screen in ("keys", "alerts", "insights", "handovers", "audit", "doctor", "scan", "settings"):
        nav(d, screen)
        time.sleep(0.3)
    shot(d, "settings")
    assert d.execute_script("return window.__keywardCspViolations || null") == [], \
        d.execute_script("return window.__keywardCspViolations")
    probe = d.execute_script("""
        const a = document.createElement('div');
        a.setAttribute('style', 'color: rgb(1, 2, 3)');
        const b = document.createElement('div');
        b.className = 'kw-csp-probe';
        const s = document.createElement('style');
        s.textContent = '.kw-csp-probe { color: rgb(4, 5, 6); }';
        const c = document.createElement('div');
        c.style.color = 'rgb(7, 8, 9)';
        document.head.appendChild(s);
        document.body.append(a, b, c);
        const out = [getComputedStyle(a).color, getComputedStyle(b).color, getComputedStyle(c).color];
        a.remove(); b.remove(); c.remove(); s.remove();
        return out;
    """)
    assert probe[0] != "rgb(1, 2, 3)", f"an inline style attribute was applied: {probe}"
    assert probe[1] != "rgb(4, 5, 6)", f"an inline <style> was applied: {probe}"
    assert probe[2] == "rgb(7, 8, 9)", f"CSSOM styling must work: {probe}"
    wait(d, lambda: len(d.execute_script("return window.__keywardCspViolations")) >= 2, 5,
         "the blocked probes to be reported as violations")


def press(d, *keys):
    """Keys to whatever has the focus (the body when nothing does, or when the focused control
    just became disabled)."""
    try:
        d.switch_to.active_element.send_keys(*keys)
    except WebDriverException:
        d.execute_script("document.activeElement && document.activeElement.blur()")
        d.find_element(By.TAG_NAME, "body").send_keys(*keys)


def active_testid(d):
    return d.execute_script("return document.activeElement && document.activeElement.getAttribute('data-testid')")


def palette_items(d):
    return d.find_elements(By.CSS_SELECTOR, tid("palette-item"))


def open_palette(d):
    press(d, Keys.CONTROL, "k")
    find(d, "palette", 5)
    wait(d, lambda: active_testid(d) == "palette-input", 5, "the palette's input to have the focus")
    return find(d, "palette-input")


def palette_run(d, query, want_kind=None, want_title=None):
    """Opens the palette, types, checks the top result, runs it with Enter."""
    box = open_palette(d)
    box.send_keys(query)

    def top():
        items = palette_items(d)
        if not items:
            return None
        it = items[0]
        ok = (want_kind is None or it.get_attribute("data-kind") == want_kind) and \
             (want_title is None or it.find_element(By.CSS_SELECTOR, ".title").get_attribute("textContent").strip().startswith(want_title))
        return it if ok else None

    wait(d, top, 5, f"{want_kind or ''} {want_title or query!r} first in the palette")
    box.send_keys(Keys.ENTER)
    wait(d, lambda: gone(d, "palette"), 5, "the palette to close")


def test_command_palette_reaches_screens_actions_and_keys(driver):
    """Ctrl+K opens a palette with fuzzy search over keys, orgs, users and actions;
    arrows move, Enter runs, Escape closes and gives the focus back."""
    d = driver
    nav(d, "keys")
    wait(d, lambda: row_count(d) > 20, 20, "the keys")
    # Every screen of the navigation is reachable from the palette.
    for query, title, screen in (("insights", "Insights", "insights"), ("alerts", "Alerts", "alerts-screen"),
                                 ("audit", "Audit log", "audit-table"), ("leak scan", "Leak scan", "scan-paths")):
        palette_run(d, query, "screen", title)
        find(d, screen, 10)
    # Fuzzy: initials and a typo-free abbreviation find the screen.
    palette_run(d, "kdoc", "screen", "Key doctor")
    find(d, "doctor-input", 10)
    palette_run(d, "setti", "screen", "Settings")
    wait(d, lambda: d.find_elements(By.CSS_SELECTOR, ".screen-h h1") and
         d.find_element(By.CSS_SELECTOR, ".screen-h h1").text.strip() == "Settings", 10, "the Settings screen")
    # Arrow keys move the selection; Escape closes and the focus goes back where it was.
    nav(d, "keys")
    search = find(d, "key-search")
    search.click()
    box = open_palette(d)
    items = palette_items(d)
    assert len(items) >= 10, "an empty query lists the screens and actions"
    assert items[0].get_attribute("aria-selected") == "true"
    box.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN)
    wait(d, lambda: palette_items(d)[2].get_attribute("aria-selected") == "true", 5, "the third item selected")
    assert box.get_attribute("aria-activedescendant") == palette_items(d)[2].get_attribute("id")
    box.send_keys(Keys.ARROW_UP)
    wait(d, lambda: palette_items(d)[1].get_attribute("aria-selected") == "true", 5, "the second item selected")
    box.send_keys(Keys.ESCAPE)
    wait(d, lambda: gone(d, "palette"), 5, "the palette to close on Escape")
    wait(d, lambda: active_testid(d) == "key-search", 5, "the focus back on the search box")
    # Ctrl+K works from a text field too, and toggles.
    press(d, Keys.CONTROL, "k")
    find(d, "palette", 5)
    press(d, Keys.CONTROL, "k")
    wait(d, lambda: gone(d, "palette"), 5, "Ctrl+K to close the palette")
    # A key by its name: Enter opens its detail.
    palette_run(d, "Canary: finance", "key", "Canary: finance")
    find(d, "key-detail", 10)
    wait(d, lambda: "Canary: finance" in find(d, "key-detail").get_attribute("textContent"), 10, "the canary key's detail")
    # A key by its suffix (the prefix…suffix detail is searched too).
    nav(d, "keys")
    rows = wait(d, lambda: [r for r in d.find_elements(By.CSS_SELECTOR, tid("key-row")) if r.text.strip()], 10, "rows")
    target = rows[0].find_element(By.CSS_SELECTOR, ".nm").get_attribute("textContent").strip()
    suffix = d.execute_script(r"""
        const k = arguments[0]; const m = /([A-Za-z0-9]{4})\s*$/.exec(k.querySelector('.cell.mono')?.textContent || '');
        return m ? m[1] : null;""", rows[0])
    box = open_palette(d)
    box.send_keys(target)
    wait(d, lambda: any(i.get_attribute("data-kind") == "key" and i.find_element(By.CSS_SELECTOR, ".title").get_attribute("textContent").strip() == target
                        for i in palette_items(d)), 5, f"the key {target!r} in the palette")
    if suffix:
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(suffix)
        wait(d, lambda: any(suffix in i.get_attribute("textContent") for i in palette_items(d) if i.get_attribute("data-kind") == "key"), 5, f"a key by its suffix {suffix}")
    box.send_keys(Keys.ESCAPE)
    wait(d, lambda: gone(d, "palette"), 5, "the palette to close")
    # An organization: its keys, filtered.
    org_select = find(d, "filter-org")
    org_name = [o.text for o in org_select.find_elements(By.CSS_SELECTOR, "option") if o.get_attribute("value")][0]
    palette_run(d, org_name, "org", org_name)
    wait(d, lambda: find(d, "filter-org").get_attribute("value") != "", 10, "the org filter set")
    org_code = find(d, "filter-org").get_attribute("value")
    for r in d.find_elements(By.CSS_SELECTOR, tid("key-row")):
        # textContent: WebDriver's visible text leaves out the table's ellipsized (overflow-clipped) cells.
        text = r.get_attribute("textContent")
        assert org_name in text or org_code in text, f"a row of another owner under {org_name}: {text}"
    [b for b in d.find_elements(By.CSS_SELECTOR, ".filters .btn") if b.text.strip() == "Clear"][0].click()
    # An action: Create key opens the dialog (then closed without creating anything).
    palette_run(d, "create key", "action", "Create key")
    find(d, "create-key", 10)
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "create-key"), 5, "the create dialog to close")
    # The palette's look, for the README: a query that mixes kinds.
    box = open_palette(d)
    box.send_keys("acme")
    wait(d, lambda: len({i.get_attribute("data-kind") for i in palette_items(d)}) >= 2, 5, "mixed results")
    assert palette_items(d)[0].get_attribute("data-kind") == "org", "the org named Acme first, then its keys"
    time.sleep(0.4)
    shot(d, "palette-acme")
    box.send_keys(Keys.ESCAPE)
    wait(d, lambda: gone(d, "palette"), 5, "the palette to close")


def test_palette_search_of_thousands_is_fast(driver):
    """Each keystroke ranks the orgs, users and actions, and the keys the store found for the
    query (a page of them, latest wins: the palette never holds the whole list); it says how
    many keys match."""
    d = driver
    nav(d, "keys")
    box = open_palette(d)
    t0 = time.time()
    for ch in "billing":
        box.send_keys(ch)
    results = find(d, "palette-results")
    wait(d, lambda: results.get_attribute("data-served") == "billing" and palette_items(d), 5, "the keys found for 'billing'")
    n = int(results.get_attribute("data-count"))
    assert 1 <= n <= 40, n
    total = int(results.get_attribute("data-key-total"))
    shown = [i for i in palette_items(d) if i.get_attribute("data-kind") == "key"]
    assert 1 <= len(shown) <= min(total, 20), (len(shown), total)
    label = find(d, "palette-key-count").get_attribute("textContent").strip()
    assert label == (f"{total:,} keys match" if total != 1 else "1 key matches"), label
    assert time.time() - t0 < 5, "typing into the palette stays responsive"
    box.send_keys(Keys.ESCAPE)


def test_shortcuts_help_overlay(driver):
    """`?` opens the shortcuts list (not while typing); it lists the app's real shortcuts;
    Escape closes it; Tab stays inside."""
    d = driver
    nav(d, "keys")
    search = find(d, "key-search")
    search.click()
    search.send_keys("?")
    time.sleep(0.3)
    assert gone(d, "help-overlay"), "? typed into a text field is text"
    assert search.get_attribute("value") == "?"
    search.send_keys(Keys.BACKSPACE)
    d.execute_script("document.activeElement.blur()")
    press(d, "?")
    overlay = find(d, "help-overlay", 5)
    text = overlay.text
    for needle in ("Ctrl", "K", "Command palette", "Search the keys", "Create a key", "Open the key", "Esc"):
        assert needle in text, f"{needle!r} missing from the shortcuts: {text}"
    assert len(d.find_elements(By.CSS_SELECTOR, tid("shortcut"))) >= 10
    shot(d, "shortcuts")
    # Focus is trapped: Tab many times never leaves the dialog.
    for _ in range(6):
        press(d, Keys.TAB)
        assert d.execute_script("return !!document.activeElement.closest('[data-testid=\"help-overlay\"]')"), "Tab left the dialog"
    press(d, Keys.SHIFT, Keys.TAB)
    assert d.execute_script("return !!document.activeElement.closest('[data-testid=\"help-overlay\"]')"), "Shift+Tab left the dialog"
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "help-overlay"), 5, "the shortcuts to close")
    # The navigation opens it too, and closing gives the focus back to that button.
    click(d, "nav-help")
    find(d, "help-overlay", 5)
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "help-overlay"), 5, "the shortcuts to close")
    wait(d, lambda: active_testid(d) == "nav-help", 5, "the focus back on the Shortcuts button")
    # Keyboard focus is visible, also on the navigation's restyled buttons.
    press(d, Keys.SHIFT, Keys.TAB)
    ring = d.execute_script("const e = document.activeElement; const s = getComputedStyle(e);"
                            "return [e.getAttribute('data-testid'), e.matches(':focus-visible'), s.outlineStyle, s.outlineWidth]")
    assert ring[0] == "nav-about" and ring[1] and ring[2] != "none" and ring[3] != "0px", f"no visible focus ring: {ring}"
    # N (a Keys-screen shortcut) does nothing under an open dialog.
    click(d, "nav-help")
    find(d, "help-overlay", 5)
    press(d, "n")
    time.sleep(0.3)
    assert gone(d, "create-key"), "N must not open Create key under the shortcuts list"
    press(d, Keys.ESCAPE)


def test_about_shows_version_and_folders_and_opens_the_data_folder(driver):
    d = driver
    click(d, "nav-about")
    dialog = find(d, "about-dialog", 5)
    version = wait(d, lambda: (find(d, "about-version").text.strip() or "…") != "…" and find(d, "about-version").text.strip(), 10, "the version")
    assert version[0].isdigit() and version.count(".") >= 2, version
    data_dir = find(d, "about-data-dir").text.strip()
    log_dir = find(d, "about-log-dir").text.strip()
    config_dir = find(d, "about-config-dir").text.strip()
    # The demo's own data folder, under KEYWARD_HOME; logs in the platform log folder.
    assert data_dir.startswith(os.environ["KEYWARD_HOME"]) and os.path.isdir(data_dir), data_dir
    assert glob.glob(os.path.join(data_dir, "*.db*")) or glob.glob(os.path.join(data_dir, "**", "*.db*"), recursive=True), \
        f"the data folder holds the session's database: {os.listdir(data_dir)}"
    assert config_dir.startswith(os.environ["KEYWARD_HOME"]), config_dir
    assert log_dir.startswith(os.environ["KEYWARD_E2E_HOME"]) and log_dir.rstrip("/").endswith("logs"), log_dir
    STATE["log_dir"] = log_dir
    shot(d, "about")
    click(d, "about-open-data")
    wait(d, lambda: os.path.exists(OPENED) and data_dir in open(OPENED).read(), 10, "xdg-open to be asked for the data folder")
    assert open(OPENED).read().strip().splitlines() == [data_dir], "only the data folder is opened"
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "about-dialog"), 5, "About to close")
    assert dialog is not None
    # The palette reaches it too.
    palette_run(d, "about", "action", "About Keyward")
    find(d, "about-dialog", 5)
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "about-dialog"), 5, "About to close")


AXE_SRC = os.path.join(os.path.dirname(__file__), "..", "..", "ui", "node_modules", "axe-core", "axe.min.js")
AXE_FINDINGS: dict = {}


def axe(d, where):
    """Runs axe-core on the page as it is; records the serious and critical violations."""
    if not d.execute_script("return typeof window.axe === 'object'"):
        # Evaluated through WebDriver (not an inline <script>, which the CSP blocks).
        d.execute_script(open(AXE_SRC, encoding="utf-8").read() + "\nwindow.axe = axe;")
        assert d.execute_script("return typeof window.axe === 'object' && typeof axe.run === 'function'"), "axe-core did not load"
    d.set_script_timeout(60)
    res = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] }).then(r => done(JSON.stringify(r.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 6).map(n => ({ target: n.target.join(' '), summary: (n.failureSummary || '').slice(0, 300) }))
        }))))).catch(e => done(JSON.stringify({ error: String(e) })));
    """)
    out = json.loads(res)
    assert not (isinstance(out, dict) and out.get("error")), out
    bad = [v for v in out if v["impact"] in ("serious", "critical")]
    AXE_FINDINGS[where] = {"serious_or_critical": bad, "other": [v for v in out if v not in bad]}
    return bad


def axe_everywhere(d, theme):
    nav(d, "keys")
    wait(d, lambda: row_count(d) > 20, 20, "the keys")
    time.sleep(0.5)
    axe(d, f"{theme}: keys")
    rows = d.find_elements(By.CSS_SELECTOR, tid("key-row"))
    rows[0].click()
    find(d, "key-detail")
    time.sleep(0.8)
    axe(d, f"{theme}: key detail")
    for screen, marker in (("alerts", "alerts-screen"), ("insights", "insights"), ("handovers", None), ("audit", "audit-table"),
                           ("doctor", "doctor-input"), ("scan", "scan-paths"), ("settings", None)):
        nav(d, screen)
        if marker:
            find(d, marker, 10)
        time.sleep(0.6)
        axe(d, f"{theme}: {screen}")
    nav(d, "keys")
    click(d, "create-key-button")
    find(d, "create-key", 5)
    time.sleep(0.3)
    axe(d, f"{theme}: create key")
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "create-key"), 5, "the create dialog to close")
    box = open_palette(d)
    box.send_keys("a")
    time.sleep(0.3)
    axe(d, f"{theme}: palette")
    box.send_keys(Keys.ESCAPE)
    wait(d, lambda: gone(d, "palette"), 5, "the palette to close")
    click(d, "nav-help")
    find(d, "help-overlay", 5)
    axe(d, f"{theme}: shortcuts")
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "help-overlay"), 5, "the shortcuts to close")
    click(d, "nav-about")
    wait(d, lambda: find(d, "about-version").text.strip() not in ("", "…"), 10, "About to load")
    axe(d, f"{theme}: about")
    press(d, Keys.ESCAPE)
    wait(d, lambda: gone(d, "about-dialog"), 5, "About to close")


def test_accessibility_axe_on_every_screen_light_and_dark(driver):
    """axe-core (from npm, injected over WebDriver) on each screen, each dialog, the
    palette, the shortcuts and About, in the light and the dark theme: no serious or critical
    violation (contrast below WCAG AA, a control without a name, ...)."""
    d = driver
    assert os.path.exists(AXE_SRC), "ui/node_modules/axe-core is missing (npm ci in ui/)"
    palette_run(d, "theme light", "action", "Theme: light")
    wait(d, lambda: d.execute_script("return document.documentElement.dataset.theme") == "light", 5, "the light theme")
    axe_everywhere(d, "light")
    palette_run(d, "theme dark", "action", "Theme: dark")
    wait(d, lambda: d.execute_script("return document.documentElement.dataset.theme") == "dark", 5, "the dark theme")
    bg = d.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert bg in ("rgb(17, 19, 24)",), f"the dark theme applies: body background {bg}"
    shot(d, "dark-theme")
    axe_everywhere(d, "dark")
    palette_run(d, "theme system", "action", "Theme: follow the system")
    with open(os.path.join(ART, "axe.json"), "w") as f:
        json.dump(AXE_FINDINGS, f, indent=1)
    bad = {k: v["serious_or_critical"] for k, v in AXE_FINDINGS.items() if v["serious_or_critical"]}
    report = "\n".join(f"{where}: [{v['impact']}] {v['id']}: {v['help']}\n" + "\n".join(f"    {n['target']}: {n['summary']}" for n in v["nodes"])
                       for where, vs in bad.items() for v in vs)
    print(report)
    assert len(AXE_FINDINGS) == 26, sorted(AXE_FINDINGS)
    assert not bad, "axe-core found serious or critical violations:\n" + report


def test_single_instance_second_launch_exits_and_focuses_the_first(driver):
    """A second launch of the same binary hands over to the running app (which
    focuses its window) and exits; the first window keeps answering."""
    d = driver
    before = d.execute_script("return document.querySelectorAll('[data-testid=\"key-row\"]').length")
    log_dir = STATE.get("log_dir")
    # Its arguments reach the first instance over D-Bus; they must never reach a log (the
    # hygiene step looks for this one too).
    arg = "k_live_e2eSecondLaunchArgument" + str(int(time.time()))
    SHOWN_SECRETS.append(arg)
    second = subprocess.Popen([os.environ["KEYWARD_APP"], arg], env=os.environ.copy(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        rc = second.wait(timeout=10)
    except subprocess.TimeoutExpired:
        second.kill()
        out = second.communicate()[0].decode(errors="replace")
        raise AssertionError(f"the second instance did not exit within 10 s:\n{out[-2000:]}")
    assert rc == 0, f"the second instance exited with {rc}"
    # The first one still answers, with its state.
    assert d.execute_script("return document.querySelectorAll('[data-testid=\"key-row\"]').length") == before
    nav(d, "alerts")
    find(d, "alerts-screen", 10)
    nav(d, "keys")
    # It ran the single-instance callback (which unminimizes and focuses the window).
    if log_dir:
        wait(d, lambda: any("second launch" in open(p, errors="replace").read() for p in glob.glob(os.path.join(log_dir, "*.log"))),
             10, "the first instance to log the second launch")
    assert d.execute_script("return document.hasFocus()"), "the first window has the focus"
    # The palette for the README (late in the run: no clipboard countdown on screen): actions
    # and keys in one list.
    box = open_palette(d)
    box.send_keys("sync")
    wait(d, lambda: {"action", "key"} <= {i.get_attribute("data-kind") for i in palette_items(d)}, 5, "actions and keys")
    assert palette_items(d)[0].get_attribute("data-kind") == "action", "Sync now first"
    time.sleep(0.4)
    shot(d, "palette", keep=True)
    box.send_keys(Keys.ESCAPE)
    wait(d, lambda: gone(d, "palette"), 5, "the palette to close")


def x_capture_png(path, rect):
    """The X display's pixels in rect (x, y, width, height) as a PNG, read with libX11 and no
    WebDriver: WebKit's screenshot does not return after a resize under Xvfb."""
    import ctypes
    import ctypes.util
    import struct
    import zlib

    class XImage(ctypes.Structure):
        _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int), ("format", ctypes.c_int),
                    ("data", ctypes.POINTER(ctypes.c_ubyte)), ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
                    ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int),
                    ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]

    xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XDefaultRootWindow.restype = ctypes.c_ulong
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    xlib.XGetImage.restype = ctypes.POINTER(XImage)
    xlib.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    xlib.XDisplayWidth.argtypes = xlib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = xlib.XOpenDisplay(None)
    assert dpy, "no X display"
    try:
        sw, sh = xlib.XDisplayWidth(dpy, 0), xlib.XDisplayHeight(dpy, 0)
        x, y = max(0, rect[0]), max(0, rect[1])
        w, h = min(rect[2], sw - x), min(rect[3], sh - y)
        img = xlib.XGetImage(dpy, xlib.XDefaultRootWindow(dpy), x, y, w, h, 0xFFFFFFFF, 2)  # ZPixmap
        assert img, "XGetImage failed"
        assert img.contents.bits_per_pixel == 32, img.contents.bits_per_pixel
        bpl = img.contents.bytes_per_line
        raw = ctypes.string_at(img.contents.data, bpl * h)
    finally:
        xlib.XCloseDisplay(dpy)
    rows = []
    for r in range(h):
        line = raw[r * bpl:r * bpl + w * 4]
        rgb = bytearray(w * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = line[2::4], line[1::4], line[0::4]  # BGRX
        rows.append(b"\x00" + bytes(rgb))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


def shot_resized(d, name, keep=False):
    """shot() for a window that was resized: the window's area of the X screen."""
    STEP[0] += 1
    time.sleep(0.4)
    r = d.get_window_rect()
    rect = (r["x"], r["y"], r["width"], r["height"])
    x_capture_png(os.path.join(ART, f"{STEP[0]:02d}-{name}.png"), rect)
    if keep and SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        x_capture_png(os.path.join(SHOTS, f"{name}.png"), rect)


def clear_search(d):
    search = find(d, "key-search")
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.BACKSPACE)
    return search


def test_keyboard_from_the_search_into_the_list_and_back(driver):
    """ArrowDown in the search moves into the results (the first row has the focus); Enter
    opens the key; Esc, Alt+Left and Backspace go back to the list as it was, with the focus on
    the row that was opened. A skip link reaches the table in one Tab."""
    d = driver
    nav(d, "keys")
    search = clear_search(d)
    total = row_count(d)
    wait(d, lambda: row_count(d) == total and first(d, "key-row"), 10, "the list")
    rows = [r for r in d.find_elements(By.CSS_SELECTOR, tid("key-row")) if r.text.strip()]
    word = rows[1].find_element(By.CSS_SELECTOR, ".nm").get_attribute("textContent").strip().split()[0]
    search.click()
    search.send_keys(word)
    wait(d, lambda: 2 <= row_count(d) < total or row_count(d) == 1, 10, "the search to filter")
    shown = row_count(d)
    search.send_keys(Keys.ARROW_DOWN)
    wait(d, lambda: d.execute_script("return document.activeElement.getAttribute('data-row')") == "0", 5, "the first row to have the focus")
    if shown > 1:
        press(d, Keys.ARROW_DOWN)
        wait(d, lambda: d.execute_script("return document.activeElement.getAttribute('data-row')") == "1", 5, "the second row")
    opened = d.execute_script("return document.activeElement.getAttribute('data-key-id')")
    assert opened and opened.startswith("api_key_"), opened
    shot(d, "keys-keyboard-row")
    press(d, Keys.ENTER)
    find(d, "key-detail", 10)
    wait(d, lambda: opened in find(d, "key-detail").text, 10, "the key opened")

    def back_on_the_row(how):
        wait(d, lambda: gone(d, "key-detail") and first(d, "keys-table"), 10, f"the list after {how}")
        wait(d, lambda: d.execute_script("return document.activeElement.getAttribute('data-key-id')") == opened, 5,
             f"the focus on the row opened, after {how}")
        assert find(d, "key-search").get_attribute("value") == word, "the list comes back with its search"
        assert row_count(d) == shown

    d.execute_script("document.activeElement && document.activeElement.blur()")
    press(d, Keys.ESCAPE)
    back_on_the_row("Esc")
    shot(d, "keys-keyboard-back")
    press(d, Keys.ENTER)
    find(d, "key-detail", 10)
    d.execute_script("document.activeElement && document.activeElement.blur()")
    press(d, Keys.ALT, Keys.ARROW_LEFT)
    back_on_the_row("Alt+Left")
    press(d, Keys.ENTER)
    find(d, "key-detail", 10)
    d.execute_script("document.activeElement && document.activeElement.blur()")
    press(d, Keys.BACKSPACE)
    back_on_the_row("Backspace")
    # ArrowUp on the first row goes back to the search.
    press(d, Keys.HOME)
    press(d, Keys.ARROW_UP)
    wait(d, lambda: active_testid(d) == "key-search", 5, "the focus back in the search")
    clear_search(d)
    wait(d, lambda: row_count(d) == total, 10, "search cleared")
    # The skip link: the first Tab stop of the page, and Enter on it lands in the table.
    assert d.execute_script("return document.body.querySelector('button, a[href], input, select, textarea, [tabindex]:not([tabindex=\"-1\"])')"
                            ".getAttribute('data-testid')") == "skip-to-content"
    d.execute_script("arguments[0].focus()", d.find_element(By.CSS_SELECTOR, tid("skip-to-content")))
    press(d, Keys.ENTER)
    wait(d, lambda: d.execute_script("return !!document.activeElement.closest('[data-testid=\"keys-table\"]')"), 5, "the focus in the keys table")
    press(d, Keys.ARROW_DOWN)
    wait(d, lambda: d.execute_script("return document.activeElement.getAttribute('data-testid')") == "key-row", 5, "a row focused")


KEY_COLUMNS = ("name", "owner", "api", "scopes", "status", "key", "created", "last_verified", "verifications", "activity")

# Every column of the keys table: shown ones are scrolled to, and each must then lie inside the
# table's scroll box (and the box inside the window); hidden ones are named.
COLUMN_REACH = """
const table = document.querySelector('[data-testid="keys-table"]');
const body = table.querySelector('[role="grid"]');
const shown = table.dataset.columns.split(' ');
const box = () => { const b = body.getBoundingClientRect(); return { left: b.left + body.clientLeft, right: b.left + body.clientLeft + body.clientWidth }; };
const out = { shown, scrollWidth: body.scrollWidth, clientWidth: body.clientWidth, innerWidth: window.innerWidth,
              tableRight: table.getBoundingClientRect().right, cols: {} };
for (const id of shown) {
  body.scrollLeft = 0;
  const h = body.querySelector('[role="columnheader"][data-col="' + id + '"]');
  let r = h.getBoundingClientRect(); let b = box();
  const before = r.left >= b.left - 1 && r.right <= b.right + 1;
  if (r.right > b.right) body.scrollLeft += Math.ceil(r.right - b.right) + 1;
  r = h.getBoundingClientRect(); b = box();
  out.cols[id] = { before, after: r.left >= b.left - 1 && r.right <= b.right + 1 && r.width >= 40, width: Math.round(r.width), text: h.textContent.trim() };
}
body.scrollLeft = 0;
return out;
"""


def test_keys_table_columns_are_reachable_at_laptop_sizes(driver):
    """At 1024x640, 1280x720 and 1440x900 every column of the keys table is either within its
    scroll box (scrolling sideways reveals it) or hidden by the column chooser and listed there;
    the filters and Clear stay in the window; the sidebar collapses by itself on a narrow
    window and keeps every screen reachable by icon; the alerts table is not cut. Screenshots
    at each size. The window's size is restored at the end."""
    d = driver
    nav(d, "keys")
    clear_search(d)
    wait(d, lambda: row_count(d) > 20, 10, "the keys")
    before = d.get_window_rect()
    try:
        for w, h in ((1024, 640), (1280, 720), (1440, 900)):
            d.set_window_size(w, h)
            _poll(lambda: abs(d.execute_script("return window.outerWidth || window.innerWidth") - w) <= 16, 10, f"the window at {w}x{h}")
            time.sleep(0.6)
            inner = d.execute_script("return window.innerWidth")
            collapsed = d.find_element(By.CSS_SELECTOR, tid("sidebar")).get_attribute("data-collapsed") == "true"
            assert collapsed == (inner < 1100), f"the sidebar at {inner}px: collapsed={collapsed}"
            for item in d.find_elements(By.CSS_SELECTOR, "nav[aria-label='Screens'] button"):
                assert item.is_displayed()
                if collapsed:
                    assert item.get_attribute("title"), "a collapsed navigation item is named by its title"
            reach = d.execute_script(COLUMN_REACH)
            assert reach["tableRight"] <= reach["innerWidth"] + 1, f"the table is cut by the window at {w}x{h}: {reach}"
            for col in KEY_COLUMNS:
                if col in reach["shown"]:
                    c = reach["cols"][col]
                    assert c["after"], f"column {col} cannot be reached at {w}x{h}: {reach}"
            if reach["scrollWidth"] > reach["clientWidth"] + 1:
                assert any(not c["before"] for c in reach["cols"].values()), "it scrolls because something is out of view"
            else:
                assert all(c["before"] for c in reach["cols"].values()), f"everything fits at {w}x{h}: {reach}"
            hidden = [c for c in KEY_COLUMNS if c not in reach["shown"]]
            if hidden:
                click(d, "column-chooser")
                listed = {o.get_attribute("data-col") for o in d.find_elements(By.CSS_SELECTOR, tid("column-option") + '[data-hidden="true"]')}
                assert set(hidden) <= listed, (hidden, listed)
                press(d, Keys.ESCAPE)
            # The filters and Clear are in the window (they wrap rather than fall off).
            out = d.execute_script("""
                const els = [...document.querySelectorAll('.filters > *')];
                return els.filter(e => { const r = e.getBoundingClientRect(); return r.right > innerWidth + 1 || r.width < 20; })
                          .map(e => e.getAttribute('data-testid') || e.textContent.trim());""")
            assert not out, f"filters off the window at {w}x{h}: {out}"
            shot_resized(d, f"keys-{w}x{h}", keep=True)
            if w == 1024:
                # The column chooser hides a column (kept in local storage) and brings it back.
                click(d, "column-chooser")
                opt = d.find_element(By.CSS_SELECTOR, tid("column-option") + '[data-col="scopes"] input')
                opt.click()
                _poll(lambda: "scopes" not in find(d, "keys-table").get_attribute("data-columns"), 5, "Scopes to hide")
                assert "scopes" in d.execute_script("return localStorage.getItem('keyward.keys.hidden-columns')")
                assert d.find_element(By.CSS_SELECTOR, tid("column-option") + '[data-col="scopes"]').get_attribute("data-hidden") == "true"
                shot_resized(d, "keys-columns-chooser")
                d.find_element(By.CSS_SELECTOR, tid("column-option") + '[data-col="scopes"] input').click()
                _poll(lambda: "scopes" in find(d, "keys-table").get_attribute("data-columns"), 5, "Scopes to come back")
                press(d, Keys.ESCAPE)
                # The sidebar's button expands and collapses it.
                click(d, "sidebar-toggle")
                _poll(lambda: find(d, "sidebar").get_attribute("data-collapsed") == "false", 5, "the sidebar to expand")
                click(d, "sidebar-toggle")
                _poll(lambda: find(d, "sidebar").get_attribute("data-collapsed") == "true", 5, "the sidebar to collapse")
                assert d.execute_script("return localStorage.getItem('keyward.sidebar')") is None, "back to following the window"
                # The alerts table: every header in the window once scrolled to.
                nav(d, "alerts")
                find(d, "alerts-screen")
                cut = d.execute_script("""
                    return [...document.querySelectorAll('[data-testid="alerts-table"] th')].filter(th => {
                      th.scrollIntoView({ block: 'nearest', inline: 'nearest' });
                      const r = th.getBoundingClientRect(); return r.left < -1 || r.right > innerWidth + 1;
                    }).map(th => th.textContent.trim());""")
                assert not cut, f"alerts columns out of reach at 1024x640: {cut}"
                d.execute_script("document.querySelector('[data-testid=\"alerts-table\"]').scrollIntoView({ block: 'start', inline: 'start' })")
                shot_resized(d, "alerts-1024x640", keep=True)
                nav(d, "keys")
                wait(d, lambda: row_count(d) > 20, 10, "the keys")
    finally:
        d.set_window_size(before["width"], before["height"])
        _poll(lambda: abs(d.execute_script("return window.outerWidth || window.innerWidth") - before["width"]) <= 16, 10, "the window restored")


def test_leave_demo_is_one_click(driver):
    d = driver
    click(d, "leave-demo")
    find(d, "welcome-demo", 30)


def _poll(cond, timeout, what):
    """wait() without its screenshot (WebKit's screenshot hangs after a resize under Xvfb)."""
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_window_state_is_saved(driver):
    """The window's size and place are remembered: tauri-plugin-window-state's file in
    the app config folder holds the size the window was given (saved shortly after a resize,
    not only at a clean exit). Last of the session: no screenshot after the resize."""
    d = driver
    cfg_root = os.path.join(os.environ["KEYWARD_E2E_HOME"], ".config")
    d.set_window_rect(width=1111, height=777)
    rect = d.get_window_rect()
    assert (rect["width"], rect["height"]) == (1111, 777), rect

    def saved():
        for p in glob.glob(os.path.join(cfg_root, "*", ".window-state.json")):
            try:
                main = json.load(open(p)).get("main") or {}
            except ValueError:
                continue  # being written
            if (main.get("width"), main.get("height")) == (1111, 777):
                return main
        return None

    main = _poll(saved, 15, "the window-state file to hold 1111x777")
    assert "x" in main and "y" in main, main
