"""Starts tauri-driver (which starts WebKitWebDriver and the real Keyward binary) once per run."""

import os
import subprocess

import pytest
from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions

from harness import start_tauri_driver

ART = os.environ.get("KEYWARD_E2E_ARTIFACTS", "target/e2e-artifacts")
# README screenshots are refreshed only on request: `make screenshots`.
SHOTS = os.environ.get("KEYWARD_E2E_SCREENSHOTS", "")


@pytest.fixture(scope="session")
def driver():
    app = os.environ["KEYWARD_APP"]
    os.makedirs(ART, exist_ok=True)
    log = open(os.path.join(ART, "tauri-driver.log"), "w")
    proc, port = start_tauri_driver(log)
    try:
        opts = ArgOptions()
        opts.set_capability("browserName", "wry")
        opts.set_capability("tauri:options", {"application": app})
        d = webdriver.Remote(command_executor=f"http://127.0.0.1:{port}", options=opts)
        # No set_window_size: after a resize under Xvfb, WebKit's screenshot never returns.
        # The window opens at the size tauri.conf.json gives it.
        yield d
        try:
            d.quit()
        except Exception:  # the app may already be gone
            pass
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
