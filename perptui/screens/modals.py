"""Modal dialogs: confirm an order, close a position, cancel all, set leverage, convert,
deposit or withdraw paper money, quit a market kept in memory only.

Why confirmations are on by default: a paper account is for learning, and the confirmation is
where the preview is read one more time; users switch it off in settings.toml.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from perptui.ticket import TicketError, parse_decimal
from perptui.widgets.keys_in_order import KeysInOrderInput
from perptui.widgets.order_ticket import SpaceTickBox

T = TypeVar("T")
# what a dialog's OK does before it closes: the venue's refusal in words (the dialog stays
# open with it and with what was typed), or None when done
Act = Callable[[T], Awaitable[str | None]]

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 72; height: auto; max-height: 90%; border: thick $primary;
                     background: $surface; padding: 1 2; }}
{name} .title {{ text-style: bold; margin-bottom: 1; }}
{name} Horizontal {{ height: auto; margin-top: 1; align-horizontal: right; }}
{name} Button {{ margin-left: 2; }}
{name} .error {{ color: $error; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no, with the facts the decision rests on: y or Enter confirms (Enter on the
    Cancel button cancels), n or Esc cancels; Space ticks the option, Enter never does."""

    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmScreen")
    BINDINGS = [
        Binding("escape", "answer(False)", "Cancel", id="modal.cancel"),
        Binding("y", "answer(True)", "Yes", id="modal.yes"),
        # every yes-or-no question: help listed `n` for all of them, only Quit's had it
        Binding("n", "answer(False)", "No", id="modal.no"),
        # Enter with the option's box focused: the answer the button says (y/↵), not a tick
        Binding("enter", "answer(True)", "Yes", show=False),
    ]

    def __init__(self, title: str, body: str, confirm: str = "Confirm", danger: bool = False,
                 option: str | None = None, refuse: str = "Cancel") -> None:  # fmt: skip
        super().__init__()
        self.title_text, self.body, self.confirm, self.refuse = title, body, confirm, refuse
        self.danger, self.option = danger, option
        self.option_value = True

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Static(Content(self.body), id="body")
            if self.option:
                yield SpaceTickBox(self.option, value=True, id="option")
            with Horizontal():
                yield Button(f"{self.refuse} (esc)", id="no")
                yield Button(f"{self.confirm} (y/↵)", id="yes",
                             variant="error" if self.danger else "primary")  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @on(Checkbox.Changed, "#option")
    def _option(self, event: Checkbox.Changed) -> None:
        self.option_value = event.value

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class QuitScreen(ConfirmScreen):
    """ "Quit and lose this market?": the confirmation, its own class so the app asks once
    (`n` and Esc stay, y and Enter quit, as in every confirmation)."""

    DEFAULT_CSS = MODAL_CSS.format(name="QuitScreen")


class Asking(Generic[T]):
    """A dialog's OK: with an `act`, the dialog does what was asked itself and stays open
    on a refusal, the exchange's words in its error line and what was typed still in its
    fields (as a number out of bounds always did); it closes once done. Without one it
    closes with the value for its caller. Why: the amend, deposit and withdraw dialogs
    closed first and a refusal was a toast, so "price 95000.3 is not a multiple of the
    tick 0.5" lost the amend typed."""

    def __init__(self, screen: ModalScreen[T | None], act: Act[T] | None) -> None:
        self.screen, self.act = screen, act
        self.busy = False  # asking, or done: a second Enter is not a second amend

    async def done(self, value: T) -> None:
        if self.act is None:
            self.screen.dismiss(value)
            return
        if self.busy:
            return
        self.busy = True
        refusal: str | None = "not done"
        try:
            refusal = await self.act(value)
        finally:
            self.busy = refusal is None  # done: closing, so no second Enter acts again
        if refusal is None:
            self.screen.dismiss(value)
        else:
            self.screen.query_one("#error", Static).update(Content(refusal))


class ValueScreen(ModalScreen[Decimal | None]):
    """Ask for one positive number (leverage, an amount), validated before it is returned."""

    DEFAULT_CSS = MODAL_CSS.format(name="ValueScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, title: str, prompt: str, value: str = "",
                 low: Decimal | None = None, high: Decimal | None = None,
                 whole: bool = False, act: Act[Decimal] | None = None) -> None:  # fmt: skip
        """`act`: done with the number before the dialog closes (see Asking)."""
        super().__init__()
        self.title_text, self.prompt, self.value = title, prompt, value
        self.low, self.high = low, high
        self.whole = whole  # a whole number only (leverage: the server's wire takes no 2.5)
        self.asking = Asking(self, act)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Static(self.prompt)
            yield KeysInOrderInput(self.value, restrict=r"[0-9.]*", id="value")
            yield Static("", classes="error", id="error")
            with Horizontal():
                yield Button("Cancel (esc)", id="no")
                yield Button("OK (↵)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#yes")
    async def _ok(self) -> None:
        text = self.query_one("#value", Input).value
        try:
            value = Decimal(text)
        except InvalidOperation:
            self.query_one("#error", Static).update(f"{text!r} is not a number")
            return
        if (
            value <= 0
            or (self.low is not None and value < self.low)
            or (self.high is not None and value > self.high)
        ):
            bounds = f" between {self.low} and {self.high}" if self.high is not None else ""
            self.query_one("#error", Static).update(f"enter a positive number{bounds}")
            return
        if self.whole and value != value.to_integral_value():
            self.query_one("#error", Static).update(f"enter a whole number, not {text}")
            return
        await self.asking.done(value)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AmendScreen(ModalScreen[tuple[Decimal, Decimal] | None]):
    """A resting order's new price (or trigger, for a stop or take-profit) and total size.

    Both fields are prefilled with the order as it stands, so changing one is one edit; the
    exchange decides the rest (priority is kept only when the size shrinks at the same price).
    Returns (price or trigger, size) or None.
    """

    DEFAULT_CSS = (
        MODAL_CSS.format(name="AmendScreen")
        + """
    AmendScreen Input { margin-bottom: 1; }
    """
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, title: str, price_label: str, price: Decimal, size: Decimal,
                 filled: Decimal,
                 act: Act[tuple[Decimal, Decimal]] | None = None) -> None:  # fmt: skip
        """`act`: the amend itself, before the dialog closes (see Asking)."""
        super().__init__()
        self.title_text, self.price_label = title, price_label
        self.order_price, self.order_size, self.filled = price, size, filled
        self.asking = Asking(self, act)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Static(self.price_label)
            yield KeysInOrderInput(str(self.order_price), restrict=r"[0-9.]*", id="price")
            filled = f", {self.filled} filled already" if self.filled else ""
            yield Static(f"total size{filled}")
            yield KeysInOrderInput(str(self.order_size), restrict=r"[0-9.]*", id="size")
            yield Static("", classes="error", id="error")
            with Horizontal():
                yield Button("Cancel (esc)", id="no")
                yield Button("Amend (↵)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#price", Input).focus()

    def _number(self, field: str, what: str) -> Decimal | None:
        """The field as a positive number, by the ticket's own rule; None, said, if not."""
        try:
            return parse_decimal(self.query_one(f"#{field}", Input).value, what)
        except TicketError as problem:
            self.query_one("#error", Static).update(str(problem))
            return None

    @on(Input.Submitted)
    @on(Button.Pressed, "#yes")
    async def _ok(self) -> None:
        price = self._number("price", self.price_label)
        size = self._number("size", "size") if price is not None else None
        if price is None or size is None:
            return
        if size <= self.filled:
            self.query_one("#error", Static).update(
                f"size must exceed the {self.filled} filled already; cancel the order instead"
            )
            return
        await self.asking.done((price, size))

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FundsScreen(ModalScreen[tuple[str, Decimal] | None]):
    """Deposit or withdraw: which collateral asset (a Select) and how much (a field), the
    amount parsed by the ticket's own rule (a positive Decimal from text). Returns (asset,
    amount) or None; what the exchange then refuses (a withdrawal the margin rule stops)
    is said with the exchange's words by the caller, and nothing changes.

    Why one screen for both: the two ask the same things; `choices` carries each asset's
    words (held, and for a withdrawal the most the margin rule lets leave now)."""

    DEFAULT_CSS = (
        MODAL_CSS.format(name="FundsScreen")
        + """
    FundsScreen Select { margin-bottom: 1; }
    """
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, title: str, verb: str, choices: dict[str, str],
                 asset: str | None = None,
                 act: Act[tuple[str, Decimal]] | None = None) -> None:  # fmt: skip
        """`choices`: asset -> the line shown under it; `asset`: the one chosen first;
        `act`: the deposit or withdrawal itself, before the dialog closes (see Asking)."""
        super().__init__()
        self.title_text, self.verb, self.choices = title, verb, choices
        self.asset = asset if asset in choices else next(iter(choices))
        self.asking = Asking(self, act)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Select([(a, a) for a in self.choices], value=self.asset, allow_blank=False,
                         id="asset")  # fmt: skip
            yield Static(self.choices[self.asset], id="prompt")
            yield KeysInOrderInput("", placeholder="amount", restrict=r"[0-9.,_]*",
                                   id="value")  # fmt: skip
            yield Static("", classes="error", id="error")
            with Horizontal():
                yield Button("Cancel (esc)", id="no")
                yield Button(f"{self.verb} (↵)", id="yes", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#value", Input).focus()

    @on(Select.Changed, "#asset")
    def _asset(self, event: Select.Changed) -> None:
        self.asset = str(event.value)
        self.query_one("#prompt", Static).update(self.choices[self.asset])
        self.query_one("#error", Static).update("")

    @on(Input.Submitted)
    @on(Button.Pressed, "#yes")
    async def _ok(self) -> None:
        try:
            amount = parse_decimal(self.query_one("#value", Input).value, "amount")
        except TicketError as problem:
            self.query_one("#error", Static).update(str(problem))
            return
        await self.asking.done((self.asset, amount))

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
