"""The connect screen keeps a refused key or an unreachable address on the form, and only a
server that answered goes into recent_servers."""

from __future__ import annotations

import argparse
import socket
from typing import Any

import pytest
from textual.widgets import Button, Input, Static

from perptui.cli import _remember_if_connected, _remote_venue
from perptui.screens.connect import ConnectApp, ConnectChoice
from perptui.settings import Settings, load_settings
from perptui.venues.remote import RemoteVenue


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _connect(app: ConnectApp, pilot: Any, url: str, key: str) -> str:
    app.query_one("#url", Input).value = url
    app.query_one("#key", Input).value = key
    result = app.query_one("#result", Static)
    result.update("")  # the last attempt's words: not to be read as this one's
    # pressed, not clicked: a long refusal above can push the button below the form's fold,
    # and a click at its old place then hit nothing (a flaky test, 1 run in 3)
    app.query_one("#connect", Button).press()
    for _ in range(200):  # the press, its worker, the answer and an exit: each a message
        await pilot.pause()
        await app.workers.wait_for_complete()
        said = str(result.render())
        if app.return_value is not None or said.startswith(("✗", "✓")):
            break
    return str(result.render())


async def test_a_refused_key_stays_on_the_form_with_the_reason(served):
    """Connect quit to the shell with 'cannot open …: the API key is unknown'."""
    c, live = served
    app = ConnectApp(Settings())
    async with app.run_test(size=(100, 30)) as pilot:
        said = await _connect(app, pilot, live.base_url, "elk_nope_nope")
        assert app.is_running and app.return_value is None
        assert said.startswith("✗") and "key" in said.lower()
        said = await _connect(app, pilot, live.base_url, c.key["alice"])  # corrected: goes on
    assert app.return_value == ConnectChoice(live.base_url, c.key["alice"]), said


async def test_an_unreachable_server_stays_on_the_form():
    app = ConnectApp(Settings())
    async with app.run_test(size=(100, 30)) as pilot:
        said = await _connect(app, pilot, f"http://127.0.0.1:{closed_port()}", "elk_any")
        assert app.is_running and app.return_value is None
        assert said.startswith("✗")


async def test_the_key_field_connects_only_after_the_server_answered(served):
    c, live = served
    app = ConnectApp(Settings(), url=live.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one("#key", Input).value = c.key["bob"]
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
    assert app.return_value == ConnectChoice(live.base_url, c.key["bob"])


async def test_a_server_is_remembered_only_once_it_answered(served, tmp_path):
    """--connect URL --key KEY put the server in recent_servers before trying it."""
    c, live = served
    path = tmp_path / "settings.toml"
    settings = load_settings(path)
    args = argparse.Namespace(connect=live.base_url, key="elk_nope_nope", key_file=None)
    venue = _remote_venue(args, settings, ask=False)
    assert isinstance(venue, RemoteVenue)
    assert load_settings(path).recent_servers == []  # not before it answered
    with pytest.raises(Exception, match=r"(?i)key"):
        await venue.start()
    await venue.stop()
    _remember_if_connected(settings, venue)  # refused: not remembered
    gone = RemoteVenue(f"http://127.0.0.1:{closed_port()}", "elk_any", timeout=1.0)
    with pytest.raises(Exception):  # noqa: B017 - whatever the transport raises
        await gone.start()
    await gone.stop()
    _remember_if_connected(settings, gone)
    assert load_settings(path).recent_servers == []
    good = RemoteVenue(live.base_url, c.key["alice"])
    await good.start()
    await good.stop()
    _remember_if_connected(settings, good)
    assert load_settings(path).recent_servers == [good.base_url]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 48)])
async def test_the_form_fits_the_terminal_with_recent_servers(size: tuple[int, int]):
    settings = Settings(recent_servers=["http://127.0.0.1:8700", "http://10.0.0.7:8700"])
    app = ConnectApp(settings)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen.region
        form = app.query_one("#form").region
        assert screen.contains_region(form), (form, screen)
        for button in ("#test", "#connect"):
            assert form.contains_region(app.query_one(button).region), button
