"""`exchange-local admin create-key | list | revoke --url`: the key commands reach a running
server like their siblings.

Why: `create-account`, `reset`, `adjust`, `halt` and `unhalt` took `--url` and `--key` (the
admin API), while `create-key`, `list` and `revoke` knew only `--db`, so an instructor away
from the server's machine could create an account online but not give it a read key, list
keys or revoke one ("unrecognized arguments: --url"). Online they print what offline prints.
"""

from __future__ import annotations

import re

import pytest

from exchange_local.cli import main
from tests.test_server_support import live_server, make_class


def test_create_list_and_revoke_keys_through_a_running_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    c = make_class()
    with live_server(c.app) as live:
        online = ["--url", live.base_url, "--key", c.key["admin"]]
        args = ["admin", "create-key", "alice-ta", "--account", "alice", "--scope", "read"]
        assert main([*args, *online]) == 0
        out = capsys.readouterr().out
        found = re.fullmatch(r"key ([0-9a-f]+) \(read\) for alice; shown once:\n(elk_\S+)\n", out)
        assert found is not None, out
        key_id, secret = found.groups()
        record = c.keys.lookup(secret)
        assert record is not None and record.account == "alice" and record.scopes == {"read"}

        assert main(["admin", "list", *online]) == 0
        listing = capsys.readouterr().out
        row = next(line for line in listing.splitlines() if line.startswith(key_id))
        assert row.split() == [key_id, "alice-ta", "alice", "read", "live"]
        assert "elk_" not in listing

        assert main(["admin", "revoke", "alice-ta", *online]) == 0  # by name, as offline
        assert capsys.readouterr().out == "revoked alice-ta\n"
        assert c.keys.lookup(secret) is None
        assert main(["admin", "revoke", key_id, *online]) == 1  # no live key: nothing done
        assert "no live key" in capsys.readouterr().err

        assert main(["admin", "list", *online]) == 0
        row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(key_id))
        assert row.split()[-1] == "revoked"
        audit = [(a["keyName"], a["action"]) for a in c.keys.audit_log()]
        assert ("admin", "create_key") in audit and ("admin", "revoke_key") in audit


def test_key_commands_online_refuse_what_the_api_cannot_do(
    capsys: pytest.CaptureFixture[str],
) -> None:
    c = make_class()
    before = [k.key_id for k in c.keys.all()]
    with live_server(c.app) as live:
        online = ["--url", live.base_url, "--key", c.key["admin"]]
        # a watch-only or an admin key is the key file's: said, status 2, no call made
        for scope_args in (["--scope", "read"], ["--account", "alice", "--scope", "admin"]):
            assert main(["admin", "create-key", "x", *scope_args, *online]) == 2
            assert "--db PATH" in capsys.readouterr().err
        # an unknown account: the server's refusal, status 1
        args = ["admin", "create-key", "x", "--account", "nobody", "--scope", "read"]
        assert main([*args, *online]) == 1
        assert "nobody" in capsys.readouterr().err
        # a student's key is not an admin key
        assert main(["admin", "list", "--url", live.base_url, "--key", c.key["alice"]]) == 1
        assert "admin" in capsys.readouterr().err
    assert [k.key_id for k in c.keys.all()] == before


@pytest.mark.parametrize("command", [["create-key", "p", "--scope", "read"], ["list"],
                                     ["revoke", "p"]])  # fmt: skip
def test_key_commands_without_a_store_or_a_server_name_both_ways(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin", *command]) == 2
    assert "give --db PATH or --url and --key" in capsys.readouterr().err
