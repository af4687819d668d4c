"""Markets, assets and exchange parameters, with the defaults of MECHANICS sections 1-2.

Why validate here: a bad configuration must fail at construction with the field's name, not
hours later as a wrong liquidation. Every number is a Decimal (floats are refused like anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal

from exchange_local.errors import ConfigError, InvalidNumber
from exchange_local.money import USD_QUANTUM, decimals_of, to_decimal

SETTLEMENT_ASSET = "USD"


def _dec(obj: object, name: str, *, positive: bool = True, allow_zero: bool = False) -> Decimal:
    """Coerce a config field to Decimal, naming the field in any refusal."""
    value = getattr(obj, name)
    label = f"{type(obj).__name__}.{name}"
    try:
        dec = to_decimal(value, label)
    except InvalidNumber as exc:
        raise ConfigError(str(exc)) from None
    if positive and (dec < 0 or (dec == 0 and not allow_zero)):
        raise ConfigError(f"{label} must be {'>= 0' if allow_zero else '> 0'}, got {dec}")
    object.__setattr__(obj, name, dec)
    return dec


@dataclass(frozen=True)
class AssetSpec:
    """A collateral asset: its weights (MECHANICS section 1) and how finely it is counted.

    weight_total / weight_initial: Wtot and Winit; size_factor: f of the large-balance haircut.
    decimals: the finest amount a deposit may name. price: the starting index (USD per unit).
    collateral: False for an underlying that only has an index (SOL: a market, not collateral).
    """

    symbol: str
    weight_total: Decimal
    weight_initial: Decimal
    size_factor: Decimal
    decimals: int = 8
    price: Decimal = Decimal(1)
    circulating_supply: Decimal | None = None
    collateral: bool = True

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.replace("-", "").isalnum():
            raise ConfigError(f"AssetSpec.symbol {self.symbol!r} must be alphanumeric")
        wt = _dec(self, "weight_total")
        wi = _dec(self, "weight_initial")
        _dec(self, "size_factor", allow_zero=True)
        _dec(self, "price")
        if wt > 1:
            raise ConfigError(f"AssetSpec.weight_total of {self.symbol} must be <= 1, got {wt}")
        if wi > wt:
            raise ConfigError(
                f"AssetSpec.weight_initial of {self.symbol} ({wi}) must be <= weight_total ({wt})"
            )
        if not isinstance(self.decimals, int) or not 0 <= self.decimals <= 18:
            raise ConfigError(f"AssetSpec.decimals of {self.symbol} must be an int in 0..18")
        if self.circulating_supply is not None:
            _dec(self, "circulating_supply")

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


@dataclass(frozen=True)
class MarketSpec:
    """A perpetual market (MECHANICS section 2's table).

    underlying: the asset whose index is this market's index (BTC for BTC-PERP).
    size_factor: f of the sqrt size scaling of IMF and MMF. oi_cap: long-side OI cap in USD.
    impact_notional: USD notional for funding's impact bid/ask.
    """

    symbol: str
    underlying: str
    tick: Decimal
    lot: Decimal
    max_leverage: Decimal
    size_factor: Decimal
    oi_cap: Decimal
    impact_notional: Decimal
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    max_account_position: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.replace("-", "").isalnum():
            raise ConfigError(f"MarketSpec.symbol {self.symbol!r} must be alphanumeric")
        tick = _dec(self, "tick")
        lot = _dec(self, "lot")
        lev = _dec(self, "max_leverage")
        _dec(self, "size_factor", allow_zero=True)
        _dec(self, "oi_cap")
        _dec(self, "impact_notional")
        _dec(self, "maker_fee", positive=False)
        _dec(self, "taker_fee", allow_zero=True)
        if self.max_account_position is not None:
            _dec(self, "max_account_position")
        if lev < 1:
            raise ConfigError(f"MarketSpec.max_leverage of {self.symbol} must be >= 1, got {lev}")
        if decimals_of(tick) + decimals_of(lot) > decimals_of(USD_QUANTUM):
            raise ConfigError(
                f"MarketSpec.tick x lot of {self.symbol} ({tick} x {lot}) must be a multiple of "
                f"the USD quantum {USD_QUANTUM}, so every fill's cash is exact"
            )
        if self.maker_fee + self.taker_fee < 0:
            raise ConfigError(
                f"MarketSpec.maker_fee of {self.symbol}: a rebate above the taker fee"
            )

    @property
    def base_imf(self) -> Decimal:
        return Decimal(1) / self.max_leverage

    @property
    def price_decimals(self) -> int:
        return decimals_of(self.tick)

    @property
    def size_decimals(self) -> int:
        return decimals_of(self.lot)


def default_assets() -> tuple[AssetSpec, ...]:
    """FTX's published weights (MECHANICS section 1), starting prices for a paper market."""
    d = Decimal
    return (
        AssetSpec("USD", d(1), d(1), d(0), decimals=6, price=d(1)),
        AssetSpec("USDC", d(1), d(1), d(0), decimals=6, price=d(1)),
        AssetSpec("BTC", d("0.975"), d("0.95"), d("0.002"), 8, d(100000), d(19_800_000)),
        AssetSpec("ETH", d("0.95"), d("0.90"), d("0.0004"), 8, d(3000), d(120_000_000)),
        AssetSpec("SOL", d("0.90"), d("0.85"), d("0.0004"), 8, d(150), d(470_000_000), False),
        AssetSpec("EUR", d("0.99"), d("0.98"), d("0.00001"), 6, d("1.08"), None),
        AssetSpec("AAPL", d("0.90"), d("0.85"), d("0.00125"), 6, d(230), d(15_000_000_000)),
    )


def default_markets() -> tuple[MarketSpec, ...]:
    """MECHANICS section 2's default markets."""
    d = Decimal
    return (
        MarketSpec("BTC-PERP", "BTC", d("0.5"), d("0.0001"), d(20), d("0.002"),
                   d(250_000_000), d(20_000)),
        MarketSpec("ETH-PERP", "ETH", d("0.05"), d("0.001"), d(20), d("0.0004"),
                   d(150_000_000), d(20_000)),
        MarketSpec("SOL-PERP", "SOL", d("0.001"), d("0.01"), d(10), d("0.0002"),
                   d(50_000_000), d(6_000)),
    )  # fmt: skip


@dataclass(frozen=True)
class ExchangeConfig:
    """Everything that parameterises an exchange. Two equal configs + same commands = same ledger.

    mark_source: "robust" (MECHANICS section 0's median mark) or "index" (mark = index, exact;
    tests and teaching scenarios). market_protection: market orders never fill worse than the
    mark by more than this fraction. warning_multiple: the margin-call warning level, E_mm below
    this multiple of MMR. margin_call_hysteresis: how far past a margin-call line (as a fraction
    of it) an account must recover before its recovery is announced.
    """

    markets: tuple[MarketSpec, ...] = field(default_factory=default_markets)
    assets: tuple[AssetSpec, ...] = field(default_factory=default_assets)
    mark_source: str = "robust"
    market_protection: Decimal = Decimal("0.05")
    max_open_orders: int = 200
    warning_multiple: Decimal = Decimal(2)
    margin_call_hysteresis: Decimal = Decimal("0.02")
    convert_spread: Decimal = Decimal("0.001")
    insurance_fund: Decimal = Decimal(1_000_000)
    backstop_accounts: tuple[str, ...] = ()
    backstop_minute_capacity: Decimal = Decimal(100_000)
    backstop_hour_capacity: Decimal = Decimal(300_000)
    backstop_loss_cap: Decimal = Decimal(1_000_000)
    insurance_step_fraction: Decimal = Decimal("0.10")
    liquidation_fee: Decimal = Decimal("0.005")
    partial_liquidation_notional: Decimal = Decimal(100_000)
    partial_liquidation_fraction: Decimal = Decimal("0.2")
    partial_liquidation_min_notional: Decimal = Decimal(1_000)
    liquidation_cooldown_seconds: int = 30
    backstop_after_seconds: int = 60
    dynamic_risk: bool = False
    dynamic_risk_period_seconds: int = 3600
    start_time_seconds: int = 0  # where the exchange clock starts (a lesson at 00:45, say)
    seed: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "markets", tuple(self.markets))
        object.__setattr__(self, "assets", tuple(self.assets))
        if self.mark_source not in ("robust", "index"):
            raise ConfigError(
                f"ExchangeConfig.mark_source must be 'robust' or 'index', got {self.mark_source!r}"
            )
        prot = _dec(self, "market_protection")
        if prot >= 1:
            raise ConfigError(f"ExchangeConfig.market_protection must be < 1, got {prot}")
        if _dec(self, "warning_multiple") < 1:
            raise ConfigError("ExchangeConfig.warning_multiple must be >= 1")
        _dec(self, "convert_spread", allow_zero=True)
        if _dec(self, "margin_call_hysteresis", allow_zero=True) >= 1:
            raise ConfigError("ExchangeConfig.margin_call_hysteresis must be < 1")
        _dec(self, "insurance_fund", allow_zero=True)
        for name in (
            "backstop_minute_capacity",
            "backstop_hour_capacity",
            "backstop_loss_cap",
            "partial_liquidation_notional",
            "partial_liquidation_min_notional",
        ):
            _dec(self, name)
        for name in ("insurance_step_fraction", "liquidation_fee", "partial_liquidation_fraction"):
            if not 0 <= _dec(self, name, allow_zero=True) <= 1:
                raise ConfigError(f"ExchangeConfig.{name} must be between 0 and 1")
        for name in ("liquidation_cooldown_seconds", "backstop_after_seconds",
                     "dynamic_risk_period_seconds", "start_time_seconds"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"ExchangeConfig.{name} must be a whole number of seconds >= 0")
        object.__setattr__(self, "backstop_accounts", tuple(self.backstop_accounts))
        if not isinstance(self.max_open_orders, int) or self.max_open_orders < 1:
            raise ConfigError("ExchangeConfig.max_open_orders must be an int >= 1")
        if not isinstance(self.seed, int):
            raise ConfigError("ExchangeConfig.seed must be an int")
        self._check_references()

    def _check_references(self) -> None:
        for name, specs in (("markets", self.markets), ("assets", self.assets)):
            symbols = [s.symbol for s in specs]
            if len(set(symbols)) != len(symbols):
                raise ConfigError(f"ExchangeConfig.{name} has duplicate symbols: {symbols}")
        asset_symbols = {a.symbol for a in self.assets}
        if "USD" not in asset_symbols:
            raise ConfigError("ExchangeConfig.assets must include USD, the settlement asset")
        usd = next(a for a in self.assets if a.symbol == "USD")
        if usd.weight_total != 1 or usd.weight_initial != 1 or usd.price != 1:
            raise ConfigError("ExchangeConfig.assets: USD must have weights 1 and price 1")
        for m in self.markets:
            if m.underlying not in asset_symbols:
                raise ConfigError(
                    f"MarketSpec.underlying of {m.symbol} is {m.underlying!r}, "
                    "which is not among ExchangeConfig.assets"
                )
            if m.underlying in ("USD", "USDC"):
                raise ConfigError(f"MarketSpec.underlying of {m.symbol} cannot be a USD asset")
        underlyings = [m.underlying for m in self.markets]
        if len(set(underlyings)) != len(underlyings):
            raise ConfigError("ExchangeConfig.markets: one market per underlying (one index each)")

    def market(self, symbol: str) -> MarketSpec | None:
        return next((m for m in self.markets if m.symbol == symbol), None)

    def replace(self, **changes: object) -> ExchangeConfig:
        """A copy with some fields changed (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return ExchangeConfig(**values)
