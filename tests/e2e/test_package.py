"""The installed package: /usr/bin/keyward-app from the .deb (scripts/package-test.sh installs it
and sets KEYWARD_APP), driven as a user would on first start: welcome -> demo -> keys listed ->
key detail. The same helpers as test_app.py."""

import os

import pytest
from selenium.webdriver.common.by import By

from test_app import click, find, row_count, shot, tid, wait

pytestmark = pytest.mark.skipif(
    not os.environ.get("KEYWARD_APP", "").startswith("/usr/"),
    reason="run by scripts/package-test.sh against the installed package",
)


def test_installed_app_welcome_demo_keys_detail(driver):
    d = driver
    find(d, "welcome-demo", 60)
    shot(d, "package-welcome")
    click(d, "welcome-demo")
    find(d, "demo-banner", 60)
    wait(d, lambda: row_count(d) > 20, 90, "demo keys to be listed")
    rows = wait(d, lambda: [r for r in d.find_elements(By.CSS_SELECTOR, tid("key-row")) if r.text.strip()], 20, "rows painted")
    assert "DEMO" in find(d, "env-badge").text
    shot(d, "package-keys")
    # The list re-sorts as the demo's live traffic comes in: open whichever row is first now.
    rows[0].click()
    detail = find(d, "key-detail")
    find(d, "history-chart")
    wait(d, lambda: "api_key_" in detail.text, 10, "the key's details (its id)")
    shot(d, "package-key-detail")
