"""What the action mixins may use of the app, for the type checker only.

Why: the keys' actions live in trading_actions.py and view_actions.py so that app.py keeps to
the frame loop; at run time they are plain mixins of `perptui.app.PerpApp`. Typed against
`AppState`, a Textual `App` with PerpApp's state, mypy checks their use of that state and of
Textual's API instead of seeing attributes it cannot place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

    from perptui.screens.main import MainScreen
    from perptui.settings import Settings
    from perptui.venues.base import Venue, VenueSnapshot

    class AppState(App[None]):
        venue: Venue
        settings: Settings
        market: str
        snapshot: VenueSnapshot | None
        _order_seq: int

        @property
        def main(self) -> MainScreen: ...

        async def frame(self) -> None: ...

else:
    AppState = object
