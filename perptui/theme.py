"""perptui's themes: market colours as theme variables, so no widget hard-codes a colour.

Why a colour-blind-safe theme: green/red is the one pair 8 % of men cannot tell apart, and the
book, the tape and PnL all lean on it. perptui-cb uses blue/orange; signs, arrows and words
carry the meaning in every theme anyway.
"""

from __future__ import annotations

from textual.theme import Theme

MARKET_VARIABLES = ("bid", "ask", "up", "down", "liq", "warn", "danger", "profit", "loss")


def rich_colour(value: str) -> str:
    """A theme's colour as a Rich style reads it. Why: Textual's ansi themes (the terminal's
    own palette) name colours "ansi_green", which Textual's CSS knows and Rich does not; a
    Rich Style built from one raised while drawing and hung the app."""
    return value.removeprefix("ansi_")


def _vars(up: str, down: str, liq: str, warn: str, danger: str) -> dict[str, str]:
    return {"bid": up, "ask": down, "up": up, "down": down, "profit": up, "loss": down,
            "liq": liq, "warn": warn, "danger": danger}  # fmt: skip


THEMES = (
    Theme(
        name="perptui-dark", primary="#4f9dde", secondary="#8a7fd6", accent="#e0b040",
        warning="#e0b040", error="#e05050", success="#3fbf7f", background="#0f1419",
        surface="#151b22", panel="#1c2430", dark=True,
        variables=_vars("#3fbf7f", "#e05050", "#ff5f87", "#e0b040", "#ff6040"),
    ),
    Theme(
        name="perptui-light", primary="#1f6fb0", secondary="#5a4fb0", accent="#9a6a00",
        warning="#9a6a00", error="#b02020", success="#16794a", background="#f7f7f4",
        surface="#ececE8", panel="#e0e0da", dark=False,
        variables=_vars("#16794a", "#b02020", "#c0006a", "#9a6a00", "#c03000"),
    ),
    Theme(
        name="perptui-cb", primary="#56b4e9", secondary="#cc79a7", accent="#f0e442",
        warning="#f0e442", error="#d55e00", success="#0072b2", background="#101418",
        surface="#161c22", panel="#1e2630", dark=True,
        variables=_vars("#56b4e9", "#e69f00", "#cc79a7", "#f0e442", "#d55e00"),
    ),
)  # fmt: skip

DEFAULT_VARIABLES = dict(THEMES[0].variables)
