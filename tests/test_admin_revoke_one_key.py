"""`exchange-local admin revoke` revokes the one key it names, online and offline.

Why (class QA): revoke matched "key id OR name" in SQL. `revoke dave` revoked dave's key and
eve's read key, also named dave; `revoke <carol's key id>` revoked carol's key and the key of
an account named like that id, then said "no live key" and exit 1 after revoking both. Now
an id names its key, a name must name exactly one live key (several: refused, with their
ids), and the API's DELETE /admin/keys/{keyId} takes an id only. Revoked students stay on
the leaderboard: locking one out must not erase their standing.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from exchange_local.cli import main
from exchange_local.server.keys import KeyStore, keys_path
from tests.test_server_support import live_server, make_class


def live_ids(keys: KeyStore) -> set[str]:
    return {k.key_id for k in keys.all() if k.revoked_ms is None}


def new_key_id(out: str) -> str:
    found = re.search(r"key ([0-9a-f]+) ", out)
    assert found is not None, out
    return found.group(1)


def test_online_a_name_of_two_keys_is_refused_and_an_id_revokes_only_its_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    c = make_class()
    with live_server(c.app) as live:
        online = ["--url", live.base_url, "--key", c.key["admin"]]
        for account in ("alice", "bob"):
            args = ["admin", "create-key", "dave", "--account", account, "--scope", "read"]
            assert main([*args, *online]) == 0
        capsys.readouterr()
        before = live_ids(c.keys)
        assert main(["admin", "revoke", "dave", *online]) == 1
        err = capsys.readouterr().err
        assert "2 live keys are named 'dave'" in err and "by its id" in err
        assert live_ids(c.keys) == before  # nothing revoked

        bob_key = next(k for k in c.keys.all() if k.name == "bob")
        # an account named like bob's key id: its key is named after it
        assert main(["admin", "create-account", bob_key.key_id, *online]) == 0
        capsys.readouterr()
        assert main(["admin", "revoke", bob_key.key_id, *online]) == 0
        assert bob_key.key_id not in live_ids(c.keys)
        named = [k for k in c.keys.all() if k.name == bob_key.key_id]
        assert len(named) == 1 and named[0].revoked_ms is None  # the account's key lives
        assert c.keys.lookup(c.key["bob"]) is None

        board = httpx.get(f"{live.base_url}/api/v1/leaderboard",
                          headers={"Authorization": f"Bearer {c.key['watch']}"})  # fmt: skip
        assert "bob" in [row["accountId"] for row in board.json()["leaderboard"]]


def test_offline_the_same_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "class.sqlite")
    assert main(["admin", "create-account", "carol", "--deposit", "USD=100", "--db", db]) == 0
    carol = new_key_id(capsys.readouterr().out)
    assert main(["admin", "create-account", carol, "--deposit", "USD=100", "--db", db]) == 0
    for account in ("carol", carol):
        args = ["admin", "create-key", "ta", "--account", account, "--scope", "read"]
        assert main([*args, "--db", db]) == 0
    capsys.readouterr()
    keys = KeyStore(keys_path(db))
    before = live_ids(keys)
    assert main(["admin", "revoke", "ta", "--db", db]) == 1
    assert "2 live keys are named 'ta'" in capsys.readouterr().err
    assert live_ids(keys) == before
    assert main(["admin", "revoke", carol, "--db", db]) == 0
    assert live_ids(keys) == before - {carol}
    keys.close()
