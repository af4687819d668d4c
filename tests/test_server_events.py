"""`GET /api/v1/events?since=`: ids only grow, also across a restart of the server on its
store, and `lastId` is where the next poll starts, so a polling client misses nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from exchange_local import Exchange, ExchangeConfig
from exchange_local.server import create_app
from exchange_local.server.keys import KeyStore, keys_path
from tests.test_server_support import make_class


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _events(http: httpx.AsyncClient, since: int, limit: int = 1000) -> dict[str, Any]:
    r = await http.get("/api/v1/events", params={"since": since, "limit": limit})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _halt(http: httpx.AsyncClient, admin: dict[str, str], what: str) -> None:
    r = await http.post(f"/api/v1/admin/markets/BTC-PERP/{what}", headers=admin)
    assert r.status_code == 200, r.text


async def test_event_ids_keep_growing_after_a_restart(tmp_path: Path) -> None:
    """Ids restarted at 1 and `since=lastId` saw nothing new. The clock stays paused (speed
    0), so the events after the restart have the very millisecond of those before it."""
    db = str(tmp_path / "class.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=db)
    keys = KeyStore(keys_path(db))
    secret, _ = keys.create("admin", None, ["admin"])
    admin = {"Authorization": f"Bearer {secret}"}
    async with _client(create_app(ex, keys, speed=0)) as http:
        await _halt(http, admin, "halt")
        await _halt(http, admin, "unhalt")
        before = await _events(http, 0)
    ids = [e["id"] for e in before["events"]]
    assert len(ids) >= 4 and ids == sorted(set(ids))  # AdminAction and MarketEvent each
    assert before["lastId"] == ids[-1]
    last = before["lastId"]
    # a kill -9: neither the exchange nor the key store is closed; the store is reopened
    ex2 = Exchange(store=db)
    assert ex2.now_ms == ex.now_ms
    keys2 = KeyStore(keys_path(db))
    async with _client(create_app(ex2, keys2, speed=0)) as http:
        quiet = await _events(http, last)
        assert quiet["events"] == [] and quiet["lastId"] >= last  # lastId never goes back
        await _halt(http, admin, "halt")
        after = await _events(http, last)
    assert [e["kind"] for e in after["events"]] == ["MarketEvent", "AdminAction"]
    assert all(e["id"] > last for e in after["events"])
    assert after["lastId"] == after["events"][-1]["id"]
    ex2.close()
    keys2.close()


async def test_a_full_page_hands_on_from_its_last_event() -> None:
    """`lastId` of a page cut at `limit` is its last event, not the newest: polling on from
    it returns every event once (it skipped the rest of the page)."""
    c = make_class()
    async with c.client() as http:
        for what in ("halt", "unhalt", "halt", "unhalt"):
            await _halt(http, c.auth("admin"), what)
        every = [e["id"] for e in (await _events(http, 0))["events"]]
        assert len(every) == 8
        seen: list[int] = []
        since = 0
        for _ in range(10):
            page = await _events(http, since, limit=3)
            seen += [e["id"] for e in page["events"]]
            if not page["events"]:
                break
            since = page["lastId"]
    assert seen == every
    assert since == every[-1]


def test_the_mark_is_written_before_an_id_past_it_is_handed_out(tmp_path: Path) -> None:
    """A block of ids is reserved in the key file at a time; a hub on the same file starts
    above the mark, however many ids the one before it handed out."""
    from exchange_local.server.hub import EVENT_ID_BLOCK, Hub

    path = str(tmp_path / "k.keys.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"))
    keys = KeyStore(path)
    hub = Hub(ex, keys)
    given = [hub.event_id() for _ in range(EVENT_ID_BLOCK + 1)]
    assert given == list(range(1, EVENT_ID_BLOCK + 2))
    assert keys.counter("public_event_id") >= given[-1]
    keys.close()
    again = Hub(ex, KeyStore(path))
    assert again.last_event_id >= given[-1] and again.event_id() > given[-1]
