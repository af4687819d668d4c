"""Online admin actions put the typed account name or market symbol in the URL as one segment.

Why: `exchange-local admin reset ../keys --url ...` was sent as
`POST /api/v1/admin/accounts/../keys/reset` and answered "Method Not Allowed", and
`halt x#y` lost everything after the `#` ("no endpoint POST /api/v1/admin/markets/x"). Now a
name that cannot be one path segment is refused before anything is sent, and the rest reach
the server whole, which says which name or market it does not know.
"""

from __future__ import annotations

import pytest

from exchange_local.cli import main
from tests.test_server_support import live_server, make_class


def test_names_and_symbols_reach_the_server_as_one_segment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    c = make_class()
    with live_server(c.app) as live:
        online = ["--url", live.base_url, "--key", c.key["admin"]]

        assert main(["admin", "reset", "../keys", "--deposit", "USD=1", *online]) == 2
        assert "'../keys' is not an account name" in capsys.readouterr().err
        assert main(["admin", "halt", "BTC-PERP/../../pause", *online]) == 2
        assert "is not a market symbol" in capsys.readouterr().err

        assert main(["admin", "halt", "x#y", *online]) == 1
        assert "there is no market 'x#y'" in capsys.readouterr().err
        assert main(["admin", "adjust", "a?b", "USD", "5", *online]) == 1
        assert "accountId" in capsys.readouterr().err

        assert main(["admin", "halt", "BTC-PERP", *online]) == 0  # a plain one still works
        capsys.readouterr()
    assert [a["action"] for a in c.keys.audit_log()].count("halt") == 1


@pytest.mark.parametrize("command", [["pause"], ["resume"], ["scenario", "crash"]])
def test_clock_commands_given_a_store_say_they_need_the_server(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Class QA: `admin pause --db PATH` answered argparse's bare "unrecognized arguments"."""
    assert main(["admin", *command, "--db", "class.sqlite"]) == 2
    assert "give --url and --key, not --db (it acts on a running server's clock)" in (
        capsys.readouterr().err
    )
