"""Whole numbers in a URL (limits, cursors, times in ms, order ids) written as digits only.

Why: pydantic's lax mode reads "0.0" or "2.0" as the integer 0 or 2, so `?until=0.0` was
answered as `?until=0` although the schema says integer (schemathesis found it): a client with
a float in its query is told so rather than served something it may not have meant.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator

_DIGITS = re.compile(r"-?[0-9]{1,19}")


def _whole(value: Any) -> Any:
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError(f"must be a whole number written in digits, not {value[:40]!r}")
    return value


WHOLE = BeforeValidator(_whole)
