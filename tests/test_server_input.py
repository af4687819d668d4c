"""Strict wire input, found by a QA pass: decimals are ASCII digits with nothing after them,
a refused value is quoted readably, every clientOrderId API.md allows can be looked up and
canceled, and leverage keeps one JSON type."""

from __future__ import annotations

from decimal import Decimal

from tests.test_server_support import make_class

D = Decimal
PROBLEM = "application/problem+json"
GOOD = {"symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "99000"}


async def test_decimals_are_ascii_digits_and_nothing_after() -> None:
    c = make_class()
    before = c.state()
    async with c.client() as http:
        for size in ("١", "１", "0.001\n", "0.1\n", " 0.1", "٠.١", "1\r"):
            r = await http.post(
                "/api/v1/orders", json={**GOOD, "size": size}, headers=c.auth("alice")
            )
            assert (r.status_code, r.json()["code"]) == (400, "INVALID_DECIMAL"), (size, r.text)
        for lev in ("١٥", "15\n", "１５"):
            r = await http.put(
                "/api/v1/leverage/ETH-PERP", json={"leverage": lev}, headers=c.auth("alice")
            )
            assert (r.status_code, r.json()["code"]) == (400, "INVALID_REQUEST"), (lev, r.text)
        r = await http.post(
            "/api/v1/withdrawals",
            json={"asset": "USD", "amount": "1"},
            headers={**c.auth("alice"), "Idempotency-Key": "k"},
        )
        assert r.status_code == 200  # the key pattern still takes a plain key
        assert c.ex.leverage("alice").get("ETH-PERP") != 15
        assert c.state()[0] == before[0]  # no order was placed


async def test_a_refused_decimal_is_quoted_in_the_message() -> None:
    c = make_class()
    async with c.client() as http:
        r = await http.post(
            "/api/v1/orders", json={**GOOD, "size": "0.001\n"}, headers=c.auth("alice")
        )
        detail = r.json()["detail"]
        assert "{value" not in detail  # the raw template reached the client
        assert detail.startswith("size: '0.001\\n' is not a plain decimal"), detail
        r = await http.post(
            "/api/v1/orders", json={**GOOD, "size": "7" * 100}, headers=c.auth("alice")
        )
        detail = r.json()["detail"]
        assert f"'{'7' * 40}'…" in detail and "7" * 41 not in detail


async def test_every_client_order_id_api_md_allows_can_be_found_and_canceled() -> None:
    c = make_class()
    a = c.auth("alice")
    async with c.client() as http:
        for coid in ("qa/one", "a/b/c", "x:y.z-1_2", "./x", "x/..", "a.b", "/", "a//b"):
            r = await http.post("/api/v1/orders", json={**GOOD, "clientOrderId": coid}, headers=a)
            assert r.status_code == 201, (coid, r.text)
            oid = r.json()["order"]["orderId"]
            path = "/api/v1/orders/by-client-id/" + coid.replace("/", "%2F")
            r = await http.get(path, headers=a)
            assert r.status_code == 200 and r.json()["orderId"] == oid, (coid, r.text)
            if not {".", ".."} & set(coid.split("/")):  # as typed: a plain "/" is left alone
                raw = await http.get("/api/v1/orders/by-client-id/" + coid, headers=a)
                assert raw.status_code == 200 and raw.json()["orderId"] == oid, (coid, raw.text)
            r = await http.delete(path, headers=a)
            assert r.status_code == 200 and r.json()["order"]["status"] == "canceled", coid
        r = await http.get("/api/v1/orders/by-client-id/bad%20id", headers=a)
        assert (r.status_code, r.json()["code"]) == (400, "BAD_REQUEST")
        r = await http.get("/api/v1/orders/by-client-id/nope/never", headers=a)
        assert (r.status_code, r.json()["code"]) == (404, "ORDER_NOT_FOUND")
        before = c.state()
        for coid in (".", "..", "..."):  # no URL reaches them: refused when placed
            r = await http.post("/api/v1/orders", json={**GOOD, "clientOrderId": coid}, headers=a)
            assert (r.status_code, r.json()["code"]) == (400, "BAD_REQUEST"), (coid, r.text)
            assert "only dots" in r.json()["detail"] and "clientOrderId" in r.json()["detail"]
        assert c.state() == before


async def test_leverage_is_a_whole_number_and_an_integer_on_the_wire() -> None:
    """`{"leverage": "2.5"}` answered `"2.5"` (a string) while 10 was 10 (an integer), and
    leverageBySymbol mixed them: API.md's leverage is an integer, so a fraction is refused."""
    c = make_class()
    a = c.auth("alice")
    before = c.ex.leverage("alice")
    async with c.client() as http:
        for value in ("2.5", "10.01", "0.5"):
            r = await http.put("/api/v1/leverage/ETH-PERP", json={"leverage": value}, headers=a)
            assert (r.status_code, r.json()["code"]) == (400, "INVALID_REQUEST"), (value, r.text)
            assert r.json()["detail"].startswith(
                "leverage for ETH-PERP must be a whole number between 1 and"
            ) and r.json()["detail"].endswith(f"got '{value}'")
        assert c.ex.leverage("alice") == before
        for value, want in ((10, 10), ("5", 5), ("3.0", 3)):
            r = await http.put("/api/v1/leverage/ETH-PERP", json={"leverage": value}, headers=a)
            assert r.status_code == 200 and r.json() == {"symbol": "ETH-PERP", "leverage": want}
        account = (await http.get("/api/v1/account", headers=a)).json()
        assert account["leverageBySymbol"] == {"BTC-PERP": 20, "ETH-PERP": 3, "SOL-PERP": 10}


def test_wire_decimals_carry_no_noise() -> None:
    """Trailing zeros of the engine's 28-digit divisions and a 1e-31 residue in unrealised
    PnL reached the wire; values stay exact, only the noise goes."""
    from exchange_local.server.wire import dec, plain, usd_display

    assert dec(D("100205.0000000000000000000000000000")) == "100205"
    assert dec(D("0.0000125000000000000000000000000000000")) == "0.0000125"
    assert dec(D("100395.2842666666666666666666666667")) == "100395.2842666666666666666666666667"
    assert [plain(D(t)) for t in ("1E+2", "0E-8", "-0.00", "-1.50", "7")] == [
        "100", "0", "0", "-1.5", "7"
    ]  # fmt: skip
    assert usd_display(D("0.12550000000000000000000000000010")) == "0.1255"
    assert usd_display(D("-3.1234565")) == "-3.123456"  # half-even at the USD quantum
    assert dec(None) is None and usd_display(None) is None


async def test_the_account_on_the_wire_is_free_of_noise() -> None:
    c = make_class()
    a = c.auth("alice")
    async with c.client() as http:
        for size in ("0.3", "0.4", "0.5"):  # three levels: an average entry
            r = await http.post(
                "/api/v1/orders",
                json={"symbol": "BTC-PERP", "side": "buy", "type": "market", "size": size},
                headers=a,
            )
            assert r.status_code == 201, r.text
        c.ex.set_index_price("BTC", D("100123.5"))
        account = (await http.get("/api/v1/account", headers=a)).json()
        [pos] = account["positions"]
        for text in (pos["entryPx"], pos["unrealizedPnl"], account["unrealizedPnl"]):
            assert not (("." in text) and text.endswith("0")), text
            assert len(text.partition(".")[2]) <= 28
        assert len(pos["unrealizedPnl"].partition(".")[2]) <= 6
        h = c.ex.health("alice")
        assert D(pos["unrealizedPnl"]) == h.positions[0].unrealized_pnl.quantize(D("0.000001"))
