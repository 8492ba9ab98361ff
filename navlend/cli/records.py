"""Plain dataclasses of what the tools read from the chain. The pure
modules (risk, checks, render) take these, so they run without a chain."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from navlend.constants import WAD
from navlend.market import PAUSE_BITS
from navlend.rules import valuation
from navlend.rules.arith import at_ratio
from navlend.rules.valuation import Collateral


@dataclass(frozen=True)
class Token:
    """A token as a person names it."""

    name: str
    symbol: str
    decimals: int
    address: str = ""


@dataclass(frozen=True)
class Holding:
    """One collateral asset of a position (or a listed asset, with
    ``balance`` 0), priced as the market prices it.

    ``price`` is in the oracle's ``price_decimals``, already capped;
    ``stale`` when older than the asset's maximum age. The market values
    ``balance`` at ``balance * price // 10**exponent`` base units."""

    name: str
    symbol: str
    token: str
    balance: int
    decimals: int
    price: int
    price_decimals: int
    base_decimals: int
    ltv_bps: int
    threshold_bps: int
    stale: bool = False
    frozen: bool = False
    price_age: int | None = None
    max_oracle_age: int | None = None
    # A lower NAV the feed announces as pending (IPendingNav), in
    # ``price_decimals``; None when there is none. The market lends (borrow,
    # collateral withdrawal) at min(price, pending); liquidation ignores it.
    pending_price: int | None = None
    # Real units per booked unit (``asset_ratio``, WAD): below one once the
    # market synced an issuer's seizure or burn of its shares. ``price`` is
    # then per booked unit (the market's), ``pending_price`` per real unit
    # (the feed's); a withdrawal pays ``real(amount)`` units.
    ratio: int = WAD

    @property
    def short(self) -> bool:
        """Whether the market holds less of this asset than its books."""
        return self.ratio < WAD

    def real(self, booked: int) -> int:
        """The real units ``booked`` units hold, rounded down (what a
        withdrawal of ``booked`` pays)."""
        return at_ratio(booked, self.ratio)

    @property
    def exponent(self) -> int:
        """The market's decimals scale for this asset (token + oracle - base
        decimals): what the rules divide a value by."""
        return self.decimals + self.price_decimals - self.base_decimals

    @property
    def collateral(self) -> Collateral:
        """This holding as the rules value it, so that the CLI's figures are
        the market's: the price per booked unit as read, and the pending NAV
        the feed announces (per real unit) taken per booked unit (None: none)."""
        pending = None
        if self.pending_price is not None:
            pending = valuation.pending_price(self.pending_price, self.ratio)
        return Collateral(
            balance=self.balance,
            price=self.price,
            exponent=self.exponent,
            ltv_bps=self.ltv_bps,
            threshold_bps=self.threshold_bps,
            stale=self.stale,
            frozen=self.frozen,
            pending=pending,
        )

    def value(self) -> int:
        """The balance's value in base units at price, rounded down (the
        views show it per asset)."""
        return self.collateral.value()

    def with_balance(self, balance: int) -> Holding:
        """The same asset holding ``balance``."""
        return replace(self, balance=balance)


@dataclass(frozen=True)
class Position:
    """A borrower's position as ``market.position`` reports it, with its
    holdings; ``principal`` from its Borrow/Repay/Liquidate events."""

    account: str
    debt: int
    scaled_debt: int
    borrow_value: int
    liquidation_value: int
    health_factor: int
    holdings: tuple[Holding, ...] = ()
    principal: int | None = None

    def holding(self, name_or_token: str) -> Holding | None:
        """The holding named ``name_or_token`` (or at that address)."""
        key = name_or_token.lower()
        for h in self.holdings:
            if h.name.lower() == key or h.token.lower() == key:
                return h
        return None


@dataclass(frozen=True)
class Control:
    """The market's pause bits and size limits (``market.control()``)."""

    paused: int = 0
    liquidations_resume_at: int = 0
    flash_fee_bps: int = 5
    liquidation_fee_bps: int = 0
    min_borrow: int = 0
    small_position: int = 0
    dust_floor: int = 0

    def paused_actions(self) -> list[str]:
        """Names of the paused actions (as ``PAUSE_BITS`` spells them)."""
        return [name for name, bit in PAUSE_BITS.items() if self.paused & bit]


@dataclass(frozen=True)
class Compliance:
    """What a fund says of one account: admitted, frozen, fund paused."""

    fund: str
    account: str
    allowlisted: bool
    frozen: bool = False
    fund_paused: bool = False


@dataclass(frozen=True)
class AssetListing:
    """A listed asset's limits as ``market.asset_config`` reports them."""

    name: str
    symbol: str
    decimals: int
    supply_cap: int
    total_supplied: int
    frozen: bool = False
    facility: str = ""


@dataclass(frozen=True)
class TxStep:
    """One transaction to send: a label for people, the contract method
    (an Ape transaction handler, or any callable with ``.call``) and its
    arguments."""

    label: str
    method: object
    args: tuple = ()
    kind: str = "main"


@dataclass(frozen=True)
class Quantity:
    """An amount of a token: what a command echoes before sending, and
    how ``--json`` gives every amount (raw units and the decimal string)."""

    units: int
    token: Token


@dataclass(frozen=True)
class Change:
    """One setting an operator changes, as people read it: old → new."""

    name: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass
class Plan:
    """What a command will send: set-up steps (approvals, authorisations)
    then the main transaction, with notes for the person.

    What the session shows before sending: ``amounts`` (each echoed in the
    token's exact units), ``preview`` (the signer's position before →
    after, a :class:`navlend.cli.preview.Preview`), ``changes`` (an
    operator's settings old → new) and ``affected`` (other accounts'
    previews: those an operator's change makes liquidatable or pushes
    under the warning level)."""

    summary: str
    steps: list[TxStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    command: str = ""
    amounts: dict[str, Quantity] = field(default_factory=dict)
    # A navlend.cli.preview.Preview (which builds on this module: not imported).
    preview: Any = None
    changes: list[Change] = field(default_factory=list)
    affected: list[Any] = field(default_factory=list)

    @property
    def setup(self) -> list[TxStep]:
        return [s for s in self.steps if s.kind == "setup"]

    @property
    def main(self) -> list[TxStep]:
        return [s for s in self.steps if s.kind != "setup"]


@dataclass(frozen=True)
class AssetView:
    """One listed asset in the market's snapshot."""

    name: str
    symbol: str
    token: str
    decimals: int
    price: int
    price_decimals: int
    price_age: int
    stale: bool
    ltv_bps: int
    threshold_bps: int
    bonus_bps: int
    supply_cap: int
    total_supplied: int
    price_cap: int
    frozen: bool
    max_oracle_age: int = 0


@dataclass(frozen=True)
class MarketView:
    """The market's state (``Lens.snapshot`` plus the control word)."""

    base: Token
    cash: int
    total_borrows: int
    reserves: int
    utilization: int
    borrow_rate_apr: int
    supply_rate_apr: int
    total_assets: int
    total_shares: int
    control: Control
    assets: tuple[AssetView, ...] = ()
