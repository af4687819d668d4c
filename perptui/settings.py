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
    problem: str | None = None  # why the file could not be read, shown once at start
    path: Path | None = None


def load_settings(path: Path | None = None, create: bool = True) -> Settings:
    path = path or config_dir() / "settings.toml"
    if not path.exists():
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(DEFAULT_TEXT)
            except OSError:
                pass
        return Settings(path=path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as problem:
        return Settings(problem=f"{path}: {problem}; using the defaults", path=path)
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
    if problems:
        settings.problem = f"{path}: " + "; ".join(problems)
    return settings
