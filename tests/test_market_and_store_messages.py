"""--market with a typo is refused with the markets there are, and a broken --db store
names itself and the command that resets that file (not the default one)."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from exchange_local import StoreError
from perptui.app import PerpApp
from perptui.projector import ProjectorApp
from perptui.settings import Settings
from perptui.venues.local import LocalVenue


def said_on_exit(app: Any) -> list[str]:
    """The messages the app leaves with (Textual prints and clears them at the end)."""
    said: list[str] = []
    leave = app.exit

    def exit(result: Any = None, return_code: int = 0, message: Any = None) -> None:
        said.append(str(message))
        leave(result, return_code, message)

    app.exit = exit
    return said


@pytest.mark.parametrize("make", [PerpApp, ProjectorApp])
async def test_an_unknown_market_is_refused_with_the_list(make):
    """`perptui --market FOO-PERP` silently opened BTC-PERP."""
    app = make(LocalVenue(clock="manual"), Settings(), market="FOO-PERP", frame_loop=False)
    said = said_on_exit(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
    assert app.return_code == 2
    assert "FOO-PERP" in said[0] and "BTC-PERP, ETH-PERP, SOL-PERP" in said[0]


async def test_no_market_asked_opens_the_first_there_is():
    app = PerpApp(LocalVenue(clock="manual"), Settings(), frame_loop=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.market == "BTC-PERP" and app.is_running


async def test_a_broken_store_names_its_file_and_the_reset_for_that_file(tmp_path, monkeypatch):
    """The advice said `perptui --reset`, which resets the default store, not this one. (A
    damaged store: a file that is no paper market at all gets no reset advice.)"""
    from tests.test_store_qa2_reset import corrupt_store

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    db = tmp_path / "corrupt.sqlite"
    corrupt_store(db)
    with pytest.raises(StoreError, match=f"`perptui --db {shlex.quote(str(db))} --reset`"):
        await LocalVenue(db, clock="manual").start()
    app = PerpApp(LocalVenue(db, clock="manual"), Settings(), frame_loop=False)
    said = said_on_exit(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
    assert said[0].startswith(f"perptui: cannot open the paper market in {db}: ")
    default = tmp_path / "data" / "perptui" / "paper.sqlite"
    default.parent.mkdir(parents=True)
    corrupt_store(default)
    with pytest.raises(StoreError, match="`perptui --reset`"):
        await LocalVenue(default, clock="manual").start()
