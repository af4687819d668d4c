"""`admin create-account` says the same thing online and offline, and why a deposit is refused.

Why (class QA): online it printed "account bob; key ..." without the deposit that offline
prints ("(deposited 10000 USD)"), and `--deposit USD=-5` answered "'USD=-5' is not
ASSET=AMOUNT", which it is, only negative.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange_local.cli import main
from tests.test_server_support import live_server, make_class


def first_line(out: str) -> str:
    return out.splitlines()[0]


def test_online_and_offline_print_the_same_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["admin", "create-account", "zoe", "--deposit", "USD=10000", "--deposit", "BTC=0.5"]
    assert main([*args, "--db", str(tmp_path / "class.sqlite")]) == 0
    offline = first_line(capsys.readouterr().out)
    c = make_class()
    with live_server(c.app) as live:
        assert main([*args, "--url", live.base_url, "--key", c.key["admin"]]) == 0
    online = first_line(capsys.readouterr().out)
    assert offline.startswith("account zoe (deposited 10000 USD, 0.5 BTC); key ")
    assert online.startswith("account zoe (deposited 10000 USD, 0.5 BTC); key ")
    assert offline.endswith("(trade), shown once:") and online.endswith("(trade), shown once:")


def test_a_negative_deposit_is_refused_for_its_sign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "class.sqlite")
    assert main(["admin", "create-account", "zed", "--deposit", "USD=-5", "--db", db]) == 2
    err = capsys.readouterr().err
    assert "'USD=-5': the amount must be above 0" in err and "admin adjust" in err
    assert not Path(db).exists()  # refused before the store was made
