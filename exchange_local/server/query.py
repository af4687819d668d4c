"""Whole numbers in a URL (limits, cursors, times in ms, order ids) written as digits only.

Why: pydantic's lax mode reads "0.0" or "2.0" as the integer 0 or 2, so `?until=0.0` was
answered as `?until=0` although the schema says integer (schemathesis found it): a client with
a float in its query is told so rather than served something it may not have meant.

Why a number of more than 19 digits is not refused here: it is a whole number written in
digits, and "must be a whole number written in digits" told a client who sent one that it
had not. It is handed on as a 20-digit number, beyond every parameter's declared maximum
(at most MAX_WHOLE), so the parameter's own bound refuses it naming that maximum, without
pydantic parsing thousands of digits.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BeforeValidator

MAX_WHOLE = 2**62  # the largest id, cursor or time in ms a URL may carry
_DIGITS = re.compile(r"-?[0-9]+")
_LONGEST = 19  # digits: every declared maximum has fewer
_BEYOND = "9" * (_LONGEST + 1)  # a stand-in above (or, negative, below) every bound


def _whole(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if _DIGITS.fullmatch(value) is None:
        raise ValueError(f"must be a whole number written in digits, not {value[:40]!r}")
    sign = "-" if value.startswith("-") else ""
    digits = value.lstrip("-").lstrip("0") or "0"
    return sign + (_BEYOND if len(digits) > _LONGEST else digits)


WHOLE = BeforeValidator(_whole)
