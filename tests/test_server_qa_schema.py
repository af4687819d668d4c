"""schemathesis's `unsupported_method` check (ST204), which test_server_schema.py leaves out
because PATCH /orders/preview reached the template /orders/{orderId} and was a 400 for its
non-integer id: every method an operation's path does not declare is now a 405 naming the
ones it does. The same document, keys and cases as test_server_schema.py."""

from __future__ import annotations

import schemathesis
from hypothesis import settings
from schemathesis.specs.openapi.checks import unsupported_method

from tests.test_server_schema import schema, with_key


@schema.parametrize()
@settings(max_examples=3)
def test_every_undeclared_method_is_405(case: schemathesis.Case) -> None:
    with_key(case).call_and_validate(checks=[unsupported_method])
