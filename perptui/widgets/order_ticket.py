"""Order entry with a live preview of what the order does before it is sent.

Attributes down, messages up: the screen gives the ticket the market, the account and a
preview; the ticket posts `PreviewWanted` when its form changes and `Submitted` on enter.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from exchange_local.engine import MarketState
from exchange_local.health import AccountHealth, OrderPreview
from perptui import format as fmt
from perptui.ticket import (
    MAX_INPUT,
    ORDER_TYPES,
    TIFS,
    TYPE_LABELS,
    TicketError,
    TicketForm,
    fit_line,
    liq_labels,
    max_size,
    position_state,
    post_only_allowed,
    preview_lines,
    short_warning,
    wrap_line,
)
from perptui.widgets.cached import update_static
from perptui.widgets.checkbox import TickBox
from perptui.widgets.keys_in_order import KeysInOrderInput

NUMBER = r"[0-9.,]*"
POST_ONLY = "post-only"
NUMBER_CHARACTERS = frozenset("0123456789.,")


class NumberInput(KeysInOrderInput):
    """A ticket field that keeps every printable key it is given, as any Input does.

    A key a number never holds (a letter, `-`, `+`, `?`) is refused by the field, with the
    bell, and the ticket says how to use the key instead (`Refused`); it never reaches the
    app's bindings, but for the ticket's own keys (side and type: `s` from the size field
    turns this order to sell). Why: the field let every such key through, and `-`, `+` and
    `p` there slowed, sped up or paused the clock, `n` switched the market and cleared the
    size being typed, and `t`, `x` and `c` opened screens: a typo in a number did something
    unrelated to the order. Function keys, ctrl combinations, Escape, Enter and Tab are not
    printable and still act.
    """

    class Refused(Message):
        """A printable key the field does not take (the ticket says what to do instead)."""

        def __init__(self, character: str) -> None:
            super().__init__()
            self.character = character

    # the ticket's own keys (by binding id, with their default keys), which act from a field:
    # they change the order being typed, never anything else (b, s: the side; m: the type)
    TICKET_KEYS = {"order.buy": "b", "order.sell": "s", "order.type": "m"}

    def _ticket_key(self, key: str) -> bool:
        keymap: dict[str, str] = getattr(self.app, "_keymap", None) or {}
        return any(key in keymap.get(binding_id, default).split(",")
                   for binding_id, default in self.TICKET_KEYS.items())  # fmt: skip

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return not self._ticket_key(key) and super().check_consume_key(key, character)

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character not in NUMBER_CHARACTERS:
            if self._ticket_key(event.key):
                event.prevent_default()  # not Input's: it bubbles on to the ticket's binding
                return  # side or type, of this very order
            event.stop()  # the field's, refused: not the app's bindings'
            event.prevent_default()
            self.restricted()  # Input's bell for a character its restriction refuses
            self.post_message(self.Refused(event.character or ""))
        # a digit, or a key of the field's own (ctrl+u, backspace...): KeysInOrderInput and
        # Input, next in the MRO


class SpaceTickBox(TickBox, inherit_bindings=False):
    """A TickBox that Space toggles and Enter leaves alone: Enter is the screen's (the
    ticket's Send, a dialog's Confirm). Why: Textual's Checkbox toggles on Enter too, so
    Enter on post-only flipped it where help says ⏎ Send and the Close dialog's button
    says Close (y/↵)."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]


MARKET_PRICE_WORDS = "best book prices, see Est. fill"  # 80 columns: fits

# Tab's way through the ticket: what the order is (side, type, TIF), then its price and size,
# then the helpers and Send, and round again. In the screen's order Tab went from Size on to
# the % buttons, the flags and Send and left; type, TIF and price took Shift+Tab.
FOCUS_ORDER = ("#side-buy", "#side-sell", "#type", "#tif", "#price", "#size", "#pct-25",
               "#pct-50", "#pct-75", "#pct-100", "#reduce", "#post", "#submit")  # fmt: skip


class OrderTicket(Vertical):
    DEFAULT_CSS = """
    OrderTicket { height: auto; padding: 0 1; border-top: solid $panel-lighten-2; }
    OrderTicket Horizontal { height: 1; margin-bottom: 0; }
    OrderTicket Button { min-width: 8; margin-right: 1; }
    OrderTicket #side-buy, OrderTicket #side-sell { width: 16; }
    OrderTicket #side-buy.-selected { background: $bid; color: $background; text-style: bold; }
    OrderTicket #side-sell.-selected { background: $ask; color: $background; text-style: bold; }
    OrderTicket #side-buy.-selected:ansi {
        background: ansi_default; color: $bid; text-style: bold reverse;
    }
    OrderTicket #side-sell.-selected:ansi {
        background: ansi_default; color: $ask; text-style: bold reverse;
    }
    OrderTicket #side-buy.-selected:focus, OrderTicket #side-sell.-selected:focus {
        text-style: bold underline;
    }
    OrderTicket #side-buy.-selected:ansi:focus, OrderTicket #side-sell.-selected:ansi:focus {
        text-style: bold reverse underline;
    }
    OrderTicket Input { width: 1fr; }
    OrderTicket .label { width: 8; }
    OrderTicket Select { width: 16; }
    /* focused like the checkboxes' labels: compact, Textual's own focus style (a border and
       a 5 % tint) drew nothing, so Tab onto Type or TIF showed no focus at all */
    OrderTicket Select:focus > SelectCurrent {
        background: $block-cursor-background; text-style: $block-cursor-text-style;
    }
    OrderTicket Select:focus > SelectCurrent Static#label,
    OrderTicket Select:focus > SelectCurrent .arrow { color: $block-cursor-foreground; }
    OrderTicket Select:focus:ansi > SelectCurrent { text-style: reverse bold; }
    OrderTicket #tif { width: 10; }
    OrderTicket Checkbox { margin-right: 2; }
    OrderTicket #price-market { width: 1fr; height: 1; color: $text-muted; display: none;
        text-wrap: nowrap; text-overflow: ellipsis; }
    /* the result wraps (a refusal's tick or lot was cut at 80 columns), three rows at most */
    OrderTicket #message { height: auto; min-height: 1; max-height: 3; }
    OrderTicket #preview {
        height: auto; min-height: 5; color: $text; text-wrap: nowrap; text-overflow: ellipsis;
    }
    OrderTicket.-compact #preview { min-height: 4; }
    OrderTicket #submit { width: 1fr; margin-top: 0; }
    OrderTicket #title { height: 1; text-style: bold; }
    OrderTicket.-short #side-buy, OrderTicket.-short #side-sell { width: 8; }
    OrderTicket.-short Button { min-width: 5; }
    OrderTicket.-short Select { width: 14; }
    OrderTicket.-short #tif { width: 8; }
    """
    BINDINGS = [
        Binding("tab", "focus_step(1)", "Next field", show=False, id="ticket.next_field"),
        Binding("shift+tab", "focus_step(-1)", "Previous field", show=False,
                id="ticket.previous_field"),
    ]  # fmt: skip
    SHORT_WIDTH = 60  # under this many columns: BUY / SELL, narrower buttons (80x24 layout)
    # under this many rows in the column (80x24, 100x30): three preview lines, not four
    COMPACT_HEIGHT = 24

    class PreviewWanted(Message):
        def __init__(self, form: TicketForm) -> None:
            super().__init__()
            self.form = form

    class SizeWanted(Message):
        """25/50/75/100 % pressed: the app sizes the order with the exchange's gate."""

        def __init__(self, percent: Decimal) -> None:
            super().__init__()
            self.percent = percent

    class Submitted(Message):
        def __init__(self, form: TicketForm) -> None:
            super().__init__()
            self.form = form

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.form = TicketForm(market="")
        self.market_state: MarketState | None = None
        self.health: AccountHealth | None = None
        self.leverage = Decimal(1)
        # the exchange's largest passing size, and the order and leverage it was asked for
        self.gate_max: tuple[tuple[TicketForm, Decimal], Decimal] | None = None
        # whether the trader has typed in the price field since the market was chosen: until
        # then it follows the mark (set_market); once typed it is never changed
        self._price_typed = False

    def compose(self) -> ComposeResult:
        yield Static("Order", id="title")
        with Horizontal():
            yield Button("▶ BUY / LONG", id="side-buy", compact=True, classes="-selected")
            yield Button("SELL / SHORT", id="side-sell", compact=True)
            yield Select([(TYPE_LABELS[t], t) for t in ORDER_TYPES], value="limit",
                         allow_blank=False, compact=True, id="type")  # fmt: skip
            yield Select([(t.upper(), t) for t in TIFS], value="gtc", allow_blank=False,
                         compact=True, id="tif")  # fmt: skip
        with Horizontal():
            yield Static("Price", classes="label", id="price-label")
            yield NumberInput(placeholder="limit price", restrict=NUMBER, compact=True, id="price")
            yield Static(MARKET_PRICE_WORDS, id="price-market")
        with Horizontal():
            yield Static("Size", classes="label")
            yield NumberInput(placeholder="size in coins", restrict=NUMBER, compact=True, id="size")
        with Horizontal():
            for pct in (25, 50, 75, 100):
                yield Button(f"{pct}%", id=f"pct-{pct}", compact=True)
            yield Static("", id="lev")
        with Horizontal():
            yield SpaceTickBox("reduce-only", compact=True, id="reduce")
            yield SpaceTickBox(POST_ONLY, compact=True, id="post")
        # the last result over the preview: "✓ order 7 filled" stays in view above the verdict
        # on sending the same order again, which is the preview's last line, over the button
        yield Static("", id="message")
        yield Static("", id="preview")
        yield Button("BUY", id="submit", variant="success", compact=True)

    # --- attributes down ----------------------------------------------------------------------
    def set_market(self, ms: MarketState, health: AccountHealth, leverage: Decimal) -> None:
        first = self.form.market != ms.symbol
        self.market_state, self.health, self.leverage = ms, health, leverage
        self.form.market = ms.symbol
        update_static(
            self.query_one("#title", Static),
            f"[b]Order[/b] {ms.symbol} · cross · lev [b]{leverage}x[/b] (l)",
        )
        update_static(self.query_one("#lev", Static), f" max ≈ {self._max()} ")
        self._fit_height()  # the screen's height may have changed, not the ticket's
        if first:
            # a size in coins means another amount in another market (0.5 BTC is not 0.5 SOL):
            # a market switch clears it rather than carry it over unnoticed
            self.query_one("#size", Input).value = ""
            self._price_typed = False  # a price typed for another market: the mark again
            self._fill_price(ms.mark)
            self._changed()
        elif self._fill_price(ms.mark):
            self.post_message(self.PreviewWanted(self.form))  # the order at its new price

    def _fill_price(self, mark: Decimal) -> bool:
        """The mark in the price field while the trader has typed none there; True if that
        changed it. Why every frame, not on `b` / `s` only: at start the field said 100000
        beside a mark of 100,107.0, and a trader who tabbed into the ticket previewed and
        sent that stale price. Not a change of the trader's: the result line stays."""
        price = self.query_one("#price", Input)
        text = str(mark)
        if self._price_typed or price.value == text:
            return False
        with price.prevent(Input.Changed):
            price.value = text
        self.form.price = text
        return True

    def set_side(self, side: str) -> None:
        """b / s: a new order's side (a price the trader never typed follows the mark)."""
        if self.market_state is not None:
            self._fill_price(self.market_state.mark)
        self.form.side = side
        # -selected, not -active: Button's own -active is its press flash, which Textual
        # takes off again (pressing the side shown left no side marked) and which the ansi
        # themes draw as a blank $ansi-background (the label vanished)
        self.query_one("#side-buy").set_class(side == "buy", "-selected")
        self.query_one("#side-sell").set_class(side == "sell", "-selected")
        self._label_sides()
        self._update_submit()
        self._changed()

    def _label_sides(self) -> None:
        """BUY / LONG and SELL / SHORT, or BUY and SELL where the 80-column layout needs the
        room for the type and time-in-force selects beside them."""
        short = self.has_class("-short")
        for side, long_name, short_name in (("buy", "BUY / LONG", "BUY"),
                                            ("sell", "SELL / SHORT", "SELL")):  # fmt: skip
            arrow = "▶ " if self.form.side == side else ""
            self.query_one(f"#side-{side}", Button).label = arrow + (
                short_name if short else long_name
            )

    def on_resize(self, event: events.Resize) -> None:
        short = event.size.width < self.SHORT_WIDTH
        if short != self.has_class("-short"):
            self.set_class(short, "-short")
            self._label_sides()
            self._redraw_preview()
        elif self._wrap_width() != self._wrapped_at:  # verdicts wrap to the new width
            self._redraw_preview()
        self._fit_height()

    def _fit_height(self) -> None:
        """Three preview lines where the column is short (80x24, 100x30): with the ticket
        pinned under the account, a fourth line and a refusal wrapped over three took the
        rows the account's own figures need, and before that pushed the button out of view."""
        parent = self.parent
        height = parent.size.height if isinstance(parent, Widget) else self.screen.size.height
        compact = 0 < height < self.COMPACT_HEIGHT
        if compact != self.has_class("-compact"):
            self.set_class(compact, "-compact")
            self._redraw_preview()

    def action_focus_step(self, step: int) -> None:
        """Tab / Shift+Tab within the ticket in FOCUS_ORDER, skipping what the order type
        hides or disables (a market order's price, post-only off a GTC limit), round again
        after Send."""
        chain = [w for w in (self.query_one(selector) for selector in FOCUS_ORDER)
                 if w.display and w.focusable]  # fmt: skip
        if not chain:
            return
        focused = self.screen.focused
        here = next((i for i, w in enumerate(chain)
                     if focused is not None and (focused is w or w in focused.ancestors)),
                    None)  # fmt: skip
        target = chain[0 if here is None and step > 0 else -1 if here is None else
                       (here + step) % len(chain)]  # fmt: skip
        target.focus()

    def cycle_type(self) -> str:
        i = ORDER_TYPES.index(self.form.type)
        self.query_one("#type", Select).value = ORDER_TYPES[(i + 1) % len(ORDER_TYPES)]
        return ORDER_TYPES[(i + 1) % len(ORDER_TYPES)]

    _shown: tuple[OrderPreview | None, str | None] = (None, None)  # as last given
    _shown_lines: list[tuple[str, str]] | None = None
    _wrapped_at = 0  # the width the lines were last fitted to
    # the most rows a line of each style wraps onto before it is cut with "…" between words:
    # a problem with the form or the venue (it names the tick or lot it asks for) is read
    # whole; a refusal wraps onto a second row (its whole text is the toast on sending); a
    # warning takes one row, a second only where cutting it would drop a number
    ROWS = {"problem": 4, "danger": 2, "warn": 2, "ok": 1}
    VERDICT_ROWS = ROWS["danger"]

    def show_preview(self, preview: OrderPreview | None, error: str | None = None) -> None:
        """The preview as key figures, then verdict lines over the button: why the order would
        be refused, that it would be canceled unfilled, each warning, or that it would be
        accepted; a problem with the form or the venue stands in their place.

        No number is cut: a figures line too long for the column goes on at its next
        figure on a row of its own (`fit_line`: "Est. liq … → …" and "MF → …" at 80
        columns with a large position), and a verdict wraps onto more rows (ROWS) before
        anything is cut with "…". The whole text of every line is the tooltip; the
        confirmation shows every line whole (`confirm_text`)."""
        self._shown = (preview, error)
        lines = self._preview_lines(preview, error)
        if lines == self._shown_lines:
            return
        self._shown_lines = lines
        styles = {"": "", "ok": "$success", "problem": "$warning", "warn": "$warn",
                  "danger": "$danger"}  # fmt: skip
        parts = []
        for style, text in lines:
            parts.append(Content.from_markup(f"[{styles[style]}]$t[/]" if style else "$t", t=text))
        widget = self.query_one("#preview", Static)
        widget.update(Content("\n").join(parts))
        widget.tooltip = self._whole_text(preview, error) or None

    def _whole_text(self, preview: OrderPreview | None, error: str | None) -> str:
        """Every preview line in full, in the wide form: the figures a narrow or short
        column cuts or leaves out, and each verdict and warning a row cut with "…"."""
        if preview is None or self.market_state is None:
            return error or ""
        return "\n".join(text for _, text in self._lines_of(preview, narrow=False))

    def confirm_text(self, preview: OrderPreview) -> str:
        """The preview as the confirmation shows it: the figures as the ticket shows them and
        the verdict and every warning whole, none cut (the dialog wraps them). Why: the
        dialog copied the ticket's rows, already cut to the column, and at every width the
        liquidation warning lost its end ("would be within 10 % of the …": no mark)."""
        figures, verdicts = self._figures_and_verdicts(preview)
        return "\n".join(text for _, text in figures + verdicts)

    def _lines_of(self, preview: OrderPreview, narrow: bool) -> list[tuple[str, str]]:
        """`preview_lines` of the order as the form holds it, with the position's liquidation
        state ("now" or "bankrupt" is said instead of a price that no longer applies)."""
        assert self.market_state is not None
        state = position_state(self.health, self.market_state.symbol)
        return preview_lines(preview, self.market_state, narrow, self.form, state)

    def _wrap_width(self) -> int:
        return self.content_size.width

    def _redraw_preview(self) -> None:
        self._shown_lines = None
        if self.is_mounted:
            self.show_preview(*self._shown)

    def _figures_and_verdicts(
        self, preview: OrderPreview
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The figures lines and the verdict lines (refusal or ✓, then warnings), whole."""
        compact = self.has_class("-compact")
        narrow = self.size.width < self.SHORT_WIDTH
        lines = self._lines_of(preview, narrow)
        figures = [line for line in lines if not line[0]]
        verdicts = [line for line in lines if line[0]]
        if not any(style == "danger" for style, _ in verdicts):  # warnings alone: accepted
            verdicts.insert(0, ("ok", "✓ would be accepted now"))
        if compact:  # liq and margin fraction after on one line; bkr and position left out
            figures = [*figures[:2], ("", self._liq_line(preview, narrow))]
            if any(style == "danger" for style, _ in verdicts):  # refused: its warnings wait
                verdicts = [line for line in verdicts if line[0] == "danger"]
        return figures, verdicts

    def _preview_lines(
        self, preview: OrderPreview | None, error: str | None
    ) -> list[tuple[str, str]]:
        self._wrapped_at = width = self._wrap_width()
        if error is not None or preview is None or self.market_state is None:
            return self._wrapped([("problem", error)], width) if error else []
        figures, verdicts = self._figures_and_verdicts(preview)
        fitted = [(style, row) for style, text in figures for row in fit_line(text, width)]
        return fitted + self._wrapped(verdicts, width)

    def _wrapped(self, verdicts: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
        """Each verdict in at most ROWS[style] rows, the next ones indented under its words,
        cut with "…" only past them. A warning takes its short form where its long one does
        not fit ("⚠ liq 87,345.0 within 10 % of mark 85,088.0" is one row at 80 columns), and
        a second row only where one would drop a number: wrapped, the last word of the long
        form stood alone on a row, and cut, it lost the mark it is about; a row more for
        every warning took the account's rows above."""
        rows = []
        for style, text in verdicts:
            most = self.ROWS.get(style, 1)
            if style == "warn" and 8 <= width < len(text):
                text = short_warning(text)
                kept = wrap_line(text, width, 1)[0].removesuffix(" …")
                most = 2 if any(c.isdigit() for c in text[len(kept) :]) else 1
            rows += [(style, row) for row in wrap_line(text, width, most)]
        return rows

    def _liq_line(self, p: OrderPreview, narrow: bool) -> str:
        assert self.market_state is not None
        state = position_state(self.health, self.market_state.symbol)
        before, after = liq_labels(p, self.market_state, state)
        liq = f"Est. liq {before} → {after}"
        if narrow:
            return f"{liq} · MF → {fmt.pct(p.margin_fraction_after)}"
        return (f"{liq}   Margin frac {fmt.pct(p.margin_fraction_before)} → "
                f"{fmt.pct(p.margin_fraction_after)}")  # fmt: skip

    message = ""  # the result line, over the preview, as last shown (a late answer: only its own)

    def show_message(self, text: str, ok: bool, warn: bool = False) -> None:
        """The last result: green for done, red for refused, `warn` (amber) for an order that
        did less than asked (canceled with nothing filled, or partly filled). It wraps onto
        up to three rows ("✗ would be refused, not sent: price 99000.37 is not a multiple
        of the tick 0.5" lost the tick at 80 columns), and stays until the next
        action: an edit of the ticket, or an order, position or funds action (its result
        is then its own toast), so it never reports an order as it was minutes ago."""
        self.message = text
        colour = "$warning" if warn else "$success" if ok else "$error"
        widget = self.query_one("#message", Static)
        widget.update(Content.from_markup(f"[{colour}]$t[/]", t=text) if text else Content(""))
        widget.tooltip = text or None  # the whole of it, should it still be cut

    @on(NumberInput.Refused)
    def _refused_key(self, event: NumberInput.Refused) -> None:
        """A key a number field does not take: said where the eye is, with the way to use it
        (the field's bell alone left a trader pressing `s` for sell in the size field)."""
        key = event.character
        self.show_message(f"“{key}” does not go in a number: Esc, then {key}", ok=False,
                          warn=True)  # fmt: skip

    # --- messages up ----------------------------------------------------------------------------
    def _max(self) -> str:
        if self.market_state is None or self.health is None:
            return fmt.DASH
        return fmt.size(self._top(), self.market_state.lot)

    def _top(self) -> Decimal:
        """100 %: the exchange's largest passing size when it has said (`set_gate_max`), else
        the free-collateral estimate until it does."""
        if self.gate_max is not None and self.gate_max[0] == self._gate_key(self.form):
            return self.gate_max[1]
        return self.sizing_estimate()

    def sizing_estimate(self) -> Decimal:
        """The free-collateral estimate of the largest size: the first probe's scale."""
        if self.market_state is None or self.health is None:
            return Decimal(0)
        return max_size(self.health, self.market_state, self.leverage, self._sizing_price())

    def _gate_key(self, form: TicketForm) -> tuple[TicketForm, Decimal]:
        """What the largest size depends on: the order as typed but its size, and leverage."""
        return dataclasses.replace(form, size=""), self.leverage

    def set_gate_max(self, form: TicketForm, size: Decimal | None) -> None:
        """The largest size the exchange's gate passes for `form`'s order (None: the venue
        could not say): the max and the 25-100 % buttons while the order stays as it was
        (but its size); any other edit shows the estimate until the gate is asked again."""
        self.gate_max = None if size is None else (self._gate_key(form), size)
        update_static(self.query_one("#lev", Static), f" max ≈ {self._max()} ")

    def _sizing_price(self) -> Decimal | None:
        """The price the 25-100 % sizes assume: the limit or trigger typed, the mark (None)
        for a market order, whose price field is greyed out and may hold an old number."""
        if self.form.type == "market" or not self.form.price:
            return None
        try:
            price = Decimal(self.form.price.replace(",", ""))
        except ArithmeticError:
            return None
        # a price no market holds (the ticket refuses it) sizes nothing: not "max ≈ 0.0000"
        return price if price.is_finite() and 0 < price <= MAX_INPUT else None

    def _changed(self) -> None:
        self.show_message("", ok=True)  # a result or refusal is about the order before the edit
        self._update_submit()
        self.post_message(self.PreviewWanted(self.form))

    def _update_submit(self) -> None:
        verb = "BUY / LONG" if self.form.side == "buy" else "SELL / SHORT"
        size = self.form.size or "?"
        button = self.query_one("#submit", Button)
        # an IOC or FOK is said on the button too: what is sent is what the button shows
        tif = (
            f" {self.form.tif.upper()}"
            if self.form.type == "limit" and self.form.tif != "gtc"
            else ""
        )
        button.label = f"{verb} {size} {self.form.market}{tif} ↵"
        button.variant = "success" if self.form.side == "buy" else "error"

    @on(Button.Pressed, "#side-buy")
    def _buy(self) -> None:
        self.set_side("buy")

    @on(Button.Pressed, "#side-sell")
    def _sell(self) -> None:
        self.set_side("sell")

    @on(Button.Pressed, "#pct-25, #pct-50, #pct-75, #pct-100")
    def _percent(self, event: Button.Pressed) -> None:
        """Ask the app to size the order: it asks the exchange's gate afresh (the max shown
        may be a tick old, and at the edge a tick refused the order)."""
        if self.market_state is None or self.health is None:
            return
        self.post_message(self.SizeWanted(Decimal(str(event.button.id).removeprefix("pct-"))))

    def set_size(self, size: Decimal) -> None:
        self.query_one("#size", Input).value = str(size)

    @on(Select.Changed, "#type")
    def _type(self, event: Select.Changed) -> None:
        self.form.type = str(event.value)
        is_limit = self.form.type == "limit"
        label = "Price" if is_limit else "Market" if self.form.type == "market" else "Trigger"
        self.query_one("#price-label", Static).update(label)
        # a market order has no price: the limit typed before waits, hidden, for a limit
        # order again (greyed out, it read as the price the market order would pay)
        at_market = self.form.type == "market"
        price = self.query_one("#price", Input)
        if at_market and price.has_focus:  # `m` from the price field: on to the size, not
            self.query_one("#size", Input).focus()  # to whatever Textual finds next
        price.display = not at_market
        self.query_one("#price-market", Static).display = at_market
        self._show_tif(is_limit, at_market)
        self._offer_post_only()
        # stops and take-profits are sent reduce-only: the box says so, locked; the trader's
        # own choice (form.reduce_only) comes back with a limit or market order
        box = self.query_one("#reduce", Checkbox)
        with box.prevent(Checkbox.Changed):
            box.value = self.form.sent_reduce_only
        box.disabled = self.form.is_trigger
        update_static(self.query_one("#lev", Static), f" max ≈ {self._max()} ")
        self._changed()

    def _show_tif(self, is_limit: bool, at_market: bool) -> None:
        """A time in force is a limit order's alone: another type leaves it at GTC, what is
        sent (a stop or take-profit waits for its trigger: shown, greyed out; a market order
        fills now: hidden). Why reset it: disabled beside Market and Stop the select still
        read FOK, and the next plain limit order went out as FOK unnoticed."""
        tif = self.query_one("#tif", Select)
        if not is_limit and self.form.tif != "gtc":
            self.form.tif = "gtc"
            with tif.prevent(Select.Changed):
                tif.value = "gtc"
        tif.disabled = not is_limit
        tif.display = not at_market

    @on(Select.Changed, "#tif")
    def _tif(self, event: Select.Changed) -> None:
        self.form.tif = str(event.value)
        self._offer_post_only()
        self._changed()

    def _offer_post_only(self) -> None:
        """Post-only only where the exchange takes it, a GTC limit order: elsewhere the box is
        off and disabled (with IOC the preview said ✓ and sending was refused), and says so
        while the trader's choice is on. The choice itself (form.post_only) is kept, and
        comes back with GTC: cleared here, the next GTC limit after an IOC went out without
        the post-only the trader had ticked. What is sent follows TicketForm.request."""
        allowed = post_only_allowed(self.form.type, self.form.tif)
        box = self.query_one("#post", Checkbox)
        box.disabled = not allowed
        with box.prevent(Checkbox.Changed):
            box.value = self.form.post_only and allowed
        off = not allowed and self.form.post_only
        box.label = f"{POST_ONLY} (GTC only)" if off else POST_ONLY

    @on(Input.Changed, "#price")
    def _price(self, event: Input.Changed) -> None:
        self._price_typed = True  # the mark's own updates post no Changed (_fill_price)
        self.form.price = event.value
        self._changed()

    @on(Input.Changed, "#size")
    def _size_changed(self, event: Input.Changed) -> None:  # not _size: Widget has one
        self.form.size = event.value
        self._changed()

    @on(Checkbox.Changed, "#reduce")
    def _reduce(self, event: Checkbox.Changed) -> None:
        self.form.reduce_only = event.value
        self._changed()

    @on(Checkbox.Changed, "#post")
    def _post(self, event: Checkbox.Changed) -> None:
        self.form.post_only = event.value
        self._changed()

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        try:
            self.form.request()
        except TicketError as problem:
            self.show_message(str(problem), ok=False)
            return
        self.post_message(self.Submitted(self.form))
