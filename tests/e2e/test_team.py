"""End-to-end: team mode on one Keyward Server (tests/e2e/team_harness.py: a real PostgreSQL, a
kinde-sandbox and keyward-server on loopback, members alice and bob (operators) and carol
(viewer)).

- the CLI with carol's token: a revoke is refused with `forbidden` (exit 11) naming the role it
  needs, the key stays active, and the refusal is in the team's audit log under carol's name.

Run with: flock /tmp/keyward-e2e.lock env E2E_NO_BUILD=1 E2E_NO_SCALE=1 scripts/e2e.sh \
tests/e2e/test_team.py
"""

import json

import pytest

from team_harness import TeamServer


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
