"""The connect screen: a server's URL and a key, tested before the terminal opens on it
(Connect tests too, and stays on the form with the reason when the server says no).

Why a test button: a student typing a key from the board wants to know at once whether it is
the key, the address or the server that is wrong, in words, not after a blank screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Input, Label, OptionList, Static

from perptui.settings import Settings
from perptui.theme import DEFAULT_VARIABLES, THEMES
from perptui.widgets.keys_in_order import KeysInOrderInput


@dataclass(frozen=True, slots=True)
class ConnectChoice:
    url: str
    key: str


async def check_connection(url: str, key: str) -> str:
    """What the server says about this key, as one line; raises with a readable message."""
    from perptui.venues.remote import RemoteVenue

    venue = RemoteVenue(url, key, timeout=3.0)
    try:
        await venue.start()
        who = venue.account or "no account (watch only)"
        scopes = ", ".join(sorted(venue.scopes)) or "none"
        return f"✓ {venue.name}: {who}, scopes {scopes}, markets {', '.join(venue.markets())}"
    finally:
        await venue.stop()


class ConnectApp(App[ConnectChoice | None]):
    TITLE = "perptui · connect"
    CSS = """
    Screen { align: center middle; }
    #form { width: 80; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
            padding: 1 2; background: $surface; overflow-y: auto; }
    #form Label { margin-top: 1; color: $text-muted; }
    #recent { height: auto; max-height: 6; }
    /* 80 x 24 with a recent server: the form was 29 rows and 84 columns, its buttons cut */
    Screen.-short #form { padding: 0 1; }
    Screen.-short #form Label { margin-top: 0; }
    Screen.-short #recent { max-height: 3; }
    #result { margin-top: 1; height: auto; }
    #buttons { height: auto; margin-top: 1; align-horizontal: right; }
    #buttons Button { margin-left: 2; }
    """
    BINDINGS = [Binding("escape", "quit", "Cancel", id="connect.cancel")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(self, settings: Settings, url: str = "", key: str = "") -> None:
        super().__init__()
        self.settings = settings
        self.url, self.key = url, key

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DEFAULT_VARIABLES)

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Static("[b]Connect to an exchange-local server[/b]")
            yield Label("Server URL")
            yield KeysInOrderInput(self.url or "http://127.0.0.1:8700", id="url")
            if self.settings.recent_servers:
                yield Label("Recent servers (enter to pick)")
                yield OptionList(*self.settings.recent_servers, id="recent")
            yield Label("API key (your teacher gives you one; it is not stored)")
            yield KeysInOrderInput(self.key, password=True, id="key")
            yield Static("", id="result")
            with Horizontal(id="buttons"):
                yield Button("Test connection", id="test")
                yield Button("Connect", id="connect", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        self.query_one("#key" if self.url else "#url", Input).focus()

    def _values(self) -> tuple[str, str] | None:
        url = self.query_one("#url", Input).value.strip()
        key = self.query_one("#key", Input).value.strip()
        if not url.startswith(("http://", "https://")):
            self._say("✗ the URL starts with http:// or https://", ok=False)
            return None
        if not key:
            self._say("✗ enter the API key", ok=False)
            return None
        return url, key

    def _say(self, text: str, ok: bool) -> None:
        self.query_one("#result", Static).update(text)
        self.query_one("#result", Static).styles.color = "green" if ok else "red"

    @on(OptionList.OptionSelected, "#recent")
    def _pick(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#url", Input).value = str(event.option.prompt)
        self.query_one("#key", Input).focus()

    @on(Button.Pressed, "#test")
    def _test(self) -> None:
        values = self._values()
        if values is not None:
            self._say("testing…", ok=True)
            self._run_test(*values)

    @work(exclusive=True, group="check", exit_on_error=False)
    async def _run_test(self, url: str, key: str) -> None:
        try:
            self._say(await check_connection(url, key), ok=True)
        except Exception as problem:
            self._say(f"✗ {problem}", ok=False)

    @on(Input.Submitted, "#key")
    @on(Button.Pressed, "#connect")
    def _connect(self) -> None:
        values = self._values()
        if values is not None:
            self._say("connecting…", ok=True)
            self._run_connect(*values)

    @work(exclusive=True, group="check", exit_on_error=False)
    async def _run_connect(self, url: str, key: str) -> None:
        """Connect tests first: a wrong key or address stays on the form, in words, to be
        corrected; only a server that answered is handed on (and remembered)."""
        try:
            await check_connection(url, key)
        except Exception as problem:
            self._say(f"✗ {problem}", ok=False)
            return
        self.exit(ConnectChoice(url, key))
