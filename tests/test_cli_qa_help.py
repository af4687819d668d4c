"""`exchange-local` help texts and option errors (docs QA item 10): every option explains
itself, `serve --help` shows its defaults and calls only a --db store durable, a bad serve
option is named with why, and an admin command with its key set (EXCHANGE_LOCAL_ADMIN_KEY or
--key) but no --url says only that --url is missing."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange_local.cli import build_parser, main
from exchange_local.server.admin_cli import ADMIN_KEY_ENV


@pytest.fixture(autouse=True)
def wide_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """One help line per option (argparse wraps at $COLUMNS), and no admin key around."""
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv(ADMIN_KEY_ENV, raising=False)


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def option_line(text: str, option: str) -> str:
    """The option's entry in a help text, with its help when argparse puts it on the next
    line (after a long `--scope {read,trade,admin}`)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(option))
    entry = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("    ") or line.strip().startswith("-"):
            break
        entry.append(line.strip())
    return " ".join(entry)


def subcommands(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, Any]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from subcommands(child, f"{path} {name}")


def test_every_option_and_argument_has_help() -> None:
    """`risk-params --seed` and `admin create-key --scope` had none (nor some positionals)."""
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, parser in subcommands(build_parser(), "exchange-local")
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_create_key_says_it_makes_trade_keys_and_what_each_scope_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = option_line(help_of(capsys, "admin"), "create-key")
    assert "a read or trade key for an account" in summary
    scope = option_line(help_of(capsys, "admin", "create-key"), "--scope")
    for words in ("read:", "trade: read and trade", "admin:"):
        assert words in scope


def test_risk_params_seed_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    seed = option_line(help_of(capsys, "risk-params"), "--seed")
    assert "seed of the observed market" in seed and "default 1" in seed


def test_create_account_has_one_scope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scope = option_line(help_of(capsys, "admin", "create-account"), "--scope")
    assert "repeatable" not in scope and "default trade" in scope
    db = str(tmp_path / "class.sqlite")
    assert main(["admin", "create-account", "amy", "--scope", "read", "--db", db]) == 0
    assert "(read)" in capsys.readouterr().out
    assert main(["admin", "list", "--db", db]) == 0
    (row,) = capsys.readouterr().out.splitlines()
    assert row.split()[1:] == ["amy", "amy", "read", "live"]


def test_serve_help_shows_the_defaults_and_durable_only_with_db(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_of(capsys, "serve")
    assert "the durable store" not in text  # it said so with no --db: in memory
    assert "without --db the exchange lives in memory" in text
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.port, defaults.scenario, defaults.speed) == (8700, "calm", "1")
    assert (defaults.rate, defaults.burst, defaults.seed) == (50.0, 100, 1)
    for option, shown in (("--port", "default 8700"), ("--scenario", "default calm"),
                          ("--speed", "default 1)"), ("--rate", "default 50)"),
                          ("--burst", "default 100)"), ("--seed", "default 1)"),
                          ("--host", "default 127.0.0.1"),
                          ("--ws-per-address", "default 32;")):  # fmt: skip
        assert shown in option_line(text, option), option
    assert "durable" in option_line(text, "--db")


def test_serve_passes_its_websocket_cap_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import exchange_local.server.serve as serve_module

    got: list[Any] = []
    monkeypatch.setattr(serve_module, "serve", lambda *a, **kw: got.append(kw) or 0)
    assert main(["serve", "--ws-per-address", "0"]) == 0
    assert main(["serve"]) == 0
    assert got == [{"ws_per_address": 0}, {"ws_per_address": 32}]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--port", "99999"], "--port must be from 0 to 65535 (0: any free port), got 99999"),
        (["--port", "-1"], "--port must be from 0 to 65535 (0: any free port), got -1"),
        (["--rate", "0"], "--rate must be a number of requests per second above 0, got 0"),
        (["--rate", "nan"], "--rate must be a number of requests per second above 0, got nan"),
        (["--rate", "inf"], "--rate must be a number of requests per second above 0, got inf"),
        (["--burst", "0"], "--burst must be at least 1 request, got 0"),
        (["--ws-per-address", "-1"], "--ws-per-address must be 0 (no limit) or more, got -1"),
    ],
)
def test_a_bad_serve_option_is_named_with_why(
    options: list[str], said: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import exchange_local.server.serve as serve_module

    started: list[Any] = []  # `--rate nan` was let through and the server started
    monkeypatch.setattr(serve_module, "serve", lambda *a: started.append(a) or 0)
    assert main(["serve", *options]) == 2
    assert capsys.readouterr().err == f"exchange-local serve: error: {said}\n"
    assert started == []


CLOCK = "(it acts on a running server's clock)"


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["pause"], f"give --url {CLOCK}"),
        (["resume"], f"give --url {CLOCK}"),
        (["scenario", "crash"], f"give --url {CLOCK}"),
        (["pause", "--db", "class.sqlite"], f"give --url, not --db {CLOCK}"),
        (["halt", "BTC-PERP"], "give --db PATH or --url"),
        (["reset", "amy", "--deposit", "USD=1"], "give --db PATH or --url"),
        (["list"], "give --db PATH or --url"),
        (["revoke", "k"], "give --db PATH or --url"),
        (["create-key", "k", "--scope", "read"], "give --db PATH or --url"),
        (["create-account", "amy"], "give --db PATH or --url"),
    ],
)
@pytest.mark.parametrize("key_from", ["env", "option"])
def test_with_a_key_and_no_url_only_the_url_is_asked_for(
    command: list[str], said: str, key_from: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """README: EXCHANGE_LOCAL_ADMIN_KEY stands in for --key; "give --url and --key" read as
    if the key were missing too."""
    if key_from == "env":
        monkeypatch.setenv(ADMIN_KEY_ENV, "elk_x")
        key: list[str] = []
    else:
        key = ["--key", "elk_x"]
    assert main(["admin", *command, *key]) == 2
    assert capsys.readouterr().err == f"exchange-local admin {command[0]}: error: {said}\n"


def test_without_a_key_both_are_still_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["admin", "pause"]) == 2
    assert (
        capsys.readouterr().err
        == f"exchange-local admin pause: error: give --url and --key {CLOCK}\n"
    )
    assert main(["admin", "halt", "BTC-PERP"]) == 2
    assert "give --db PATH or --url and --key\n" in capsys.readouterr().err
