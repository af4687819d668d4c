"""Test settings: hypothesis is derandomized in CI so a red build is reproducible."""

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.test_server_support import live_server, make_class

settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def served() -> Iterator[tuple[Any, Any]]:
    """A class (an exchange, its students and keys) served on 127.0.0.1 for one test."""
    c = make_class()
    with live_server(c.app) as live:
        yield c, live
