"""Settings in a TOML file in the user's config directory: confirmations, theme, keymap.

Why a file people edit rather than a settings screen first: traders keep dotfiles, and a
keymap is easier to write down than to click together. A missing file is written with the
defaults and comments; a broken one is reported and the defaults are used.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TEXT = """\
# perptui settings. Delete this file to get the defaults back.

# Ask before an order, a close or a cancel-all is sent.
confirm_orders = true

# perptui-dark, perptui-light, perptui-cb (colour-blind safe: blue/orange), or any Textual theme.
theme = "perptui-dark"

# Servers you connected to (perptui connect), newest first; keys are never stored here.
recent_servers = []

# Remap keys by binding id (see the help screen, F1, for every id), e.g.
# [keymap]
# "order.buy" = "B"
[keymap]
"""


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "perptui"


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "perptui"


@dataclass(slots=True)
class Settings:
    confirm_orders: bool = True
    theme: str = "perptui-dark"
    keymap: dict[str, str] = field(default_factory=dict)
    recent_servers: list[str] = field(default_factory=list)
    problem: str | None = None  # why the file could not be read, shown once at start
    path: Path | None = None


def load_settings(path: Path | None = None, create: bool = True) -> Settings:
    path = path or config_dir() / "settings.toml"
    if not path.exists():
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(DEFAULT_TEXT, encoding="utf-8")
            except OSError:
                pass
        return Settings(path=path)
    try:
        data = tomllib.loads(_read_utf8(path))
    except (OSError, ValueError) as problem:  # TOMLDecodeError and UnicodeDecodeError too
        return Settings(problem=f"{path}: {_why(problem)}; using the defaults", path=path)
    settings = Settings(path=path)
    confirm = data.get("confirm_orders", True)
    theme = data.get("theme", settings.theme)
    keymap = data.get("keymap", {})
    problems = []
    if isinstance(confirm, bool):
        settings.confirm_orders = confirm
    else:
        problems.append("confirm_orders must be true or false")
    if isinstance(theme, str):
        settings.theme = theme
    else:
        problems.append("theme must be a string")
    if isinstance(keymap, dict) and all(isinstance(v, str) for v in keymap.values()):
        settings.keymap = {str(k): v for k, v in keymap.items()}
    else:
        problems.append("keymap must map binding ids to key strings")
    servers = data.get("recent_servers", [])
    if isinstance(servers, list) and all(isinstance(v, str) for v in servers):
        settings.recent_servers = list(servers)
    else:
        problems.append("recent_servers must be a list of URLs")
    if problems:
        settings.problem = f"{path}: " + "; ".join(problems)
    return settings


def _read_utf8(path: Path) -> str:
    """The file as text: TOML is UTF-8 (a UTF-8 byte-order mark is tolerated)."""
    return path.read_bytes().decode("utf-8-sig")


def _why(problem: Exception) -> str:
    """A broken file in words: an undecodable one says which encoding to save it in."""
    if not isinstance(problem, UnicodeDecodeError):
        return str(problem)
    start = problem.object[:2]
    found = " (it looks like UTF-16)" if start in (b"\xff\xfe", b"\xfe\xff") else ""
    return (f"not UTF-8 text{found}: byte 0x{problem.object[problem.start]:02x} at offset "
            f"{problem.start}; save it as UTF-8")  # fmt: skip


RECENT_KEPT = 8


def remember_server(settings: Settings, url: str) -> None:
    """Put `url` first in recent_servers and rewrite that one line of the file, leaving the
    user's comments and keymap as they are (top-level keys go before the first table)."""
    servers = [url] + [s for s in settings.recent_servers if s != url]
    settings.recent_servers = servers[:RECENT_KEPT]
    path = settings.path
    if path is None:
        return
    line = "recent_servers = [" + ", ".join(_toml_string(s) for s in settings.recent_servers) + "]"
    try:
        lines = _read_utf8(path).splitlines() if path.exists() else DEFAULT_TEXT.splitlines()
        for i, text in enumerate(lines):
            if text.strip().startswith("recent_servers"):
                lines[i] = line
                break
        else:
            first_table = next((i for i, t in enumerate(lines) if t.strip().startswith("[")),
                               len(lines))  # fmt: skip
            lines.insert(first_table, line)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except (OSError, ValueError):  # an unreadable file is left as it is, not rewritten
        pass  # remembering is a convenience; connecting must not fail for it


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
