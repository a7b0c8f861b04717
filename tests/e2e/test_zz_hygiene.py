"""Runs last (pytest takes the files in the order scripts/e2e.sh gives): no secret that any
earlier test showed, in any file, is found at rest."""

import glob
import os

from conftest import ART
from test_app import SHOWN_SECRETS, STATE


def test_secret_hygiene():
    """No file under KEYWARD_HOME or the scratch HOME (logs, webview storage, config) holds a
    secret that was shown. The log folder is among them, and the app's log file exists."""
    assert len(SHOWN_SECRETS) >= 3, "the earlier steps showed secrets"
    log_dir = STATE.get("log_dir")
    assert log_dir, "the About step read the log folder"
    logs = glob.glob(os.path.join(log_dir, "*.log"))
    assert logs, f"no log file in {log_dir}"
    assert any(os.path.getsize(p) > 0 for p in logs), "the log file is empty"
    # Size-capped: 1 MiB per file, three older ones kept.
    assert all(os.path.getsize(p) <= 1024 * 1024 + 64 * 1024 for p in logs), [(p, os.path.getsize(p)) for p in logs]
    assert len(logs) <= 4, logs
    roots = [os.environ["KEYWARD_HOME"], os.environ["KEYWARD_E2E_HOME"]]
    assert any(os.path.commonpath([log_dir, r]) == r for r in roots), "the log folder is scanned below"
    needles = [s.encode() for s in SHOWN_SECRETS]
    scanned = 0
    scanned_logs = 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    data = open(p, "rb").read()
                except OSError:
                    continue
                scanned += 1
                if p in logs:
                    scanned_logs += 1
                for n in needles:
                    assert n not in data, f"a shown secret was found in {p}"
    assert scanned > 0
    assert scanned_logs == len(logs), "every log file was scanned"
    # Keep the app log as an artifact.
    for p in logs:
        with open(p, "rb") as src, open(os.path.join(ART, "app-" + os.path.basename(p)), "wb") as dst:
            dst.write(src.read())
