"""Reference model of a navlend market's math, in pure Python integers.

Everything here mirrors ``contracts/market/modules/market_core.vy`` and
``contracts/market/Market.vy`` / ``MarketAdmin.vy`` line by line, with the
contract's exact rounding, so that the property suite can compare the
contract and the model operation by operation:

- interest: kinked per-second curve, Taylor 3rd-order compounding, the
  borrow index rounded up, interest = scaled x (new index - old index)
  rounded down per term, reserves = interest x reserve factor rounded down;
- shares and assets: ERC-4626 with 10^6 virtual shares and 1 virtual asset
  over internal cash (deposit and redeem round down, mint and withdraw up);
- debt: scaled debt x index rounded up; a borrow adds ceil(amount / index);
  a partial repayment removes floor(repaid / index), a full one all of it;
- valuation: value = amount x min(price, cap) / 10^(token + oracle - base
  decimals) rounded down; borrow value at LTV, liquidation value at the
  threshold, each rounded down per asset; health factor = liquidation
  value x 1e18 / debt;
- liquidation: close factor (50 %, or 100 % below HF 0.95 or for small
  debt or collateral), the dust trims, seized = repaid x (1 + bonus) /
  price rounded down, the protocol's share of the bonus, the bad-debt
  write-off (reserves first, then lenders);
- flash loans: the fee rounded up; the loan leaves the books untouched
  and the fee unbooked (a surplus of base asset held over the cash, like a
  donation) until ``book_surplus`` or ``withdraw_reserves`` books the
  surplus into cash and reserves alike after accruing; a loan, or any
  payout, above the base asset the market physically holds fails in the
  token (inside a flash loan's callback the principal is out);
- reserves withdrawal, pause bits, the parameter bounds.

:class:`MarketModel` holds a market's state and applies operations. Each
operation either returns what the contract returns and commits the new
state, or raises :class:`ModelRevert` with the contract's revert string and
leaves the state untouched. Prices are supplied by the caller (a function
``price_feed(asset_id) -> (answer, updated_at)``), since oracles are
outside the market. The base asset the market holds is ``cash +
unbooked - lent``: the model tracks what the contract does not book
(``unbooked``: flash fees and donations) and the principal of a flash
loan in progress (``lent``), which is all ``book_surplus`` needs. The
events the property suite compares (``FlashLoan``, ``SurplusBooked``) are
appended to ``events``, for the caller to read and clear.

No dependency beyond the standard library; usable from keepers and
indexers that must mirror the contract's rounding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

from navlend.constants import (  # noqa: F401  (re-exported: the model's vocabulary)
    BPS,
    CLOSE_FACTOR_BPS,
    CLOSE_FACTOR_HF_THRESHOLD,
    MAX_ANNUAL_RATE,
    MAX_ASSETS,
    MAX_BONUS_BPS,
    MAX_FLASH_FEE_BPS,
    MAX_GRACE_PERIOD,
    MAX_KINK_BPS,
    MAX_LIQUIDATION_FEE_BPS,
    MAX_LTV_BPS,
    MAX_ORACLE_AGE,
    MAX_RESERVE_FACTOR_BPS,
    MIN_KINK_BPS,
    MIN_ORACLE_AGE,
    PAUSE_ALL,
    PAUSE_BORROW,
    PAUSE_DEPOSIT_COLLATERAL,
    PAUSE_FLASH_LOAN,
    PAUSE_LIQUIDATION,
    PAUSE_SUPPLY,
    PAUSE_WITHDRAW,
    PAUSE_WITHDRAW_COLLATERAL,
    VIRTUAL_ASSETS,
    VIRTUAL_SHARES,
    WAD,
)

YEAR = 365 * 86_400
DECIMALS_OFFSET = 6

VALUE_LIQUIDATION = 0
VALUE_BORROW = 1
VALUE_WITHDRAW = 2
VALUE_OPEN_BORROW = 3

MASK32 = 2**32 - 1
MASK48 = 2**48 - 1
MASK96 = 2**96 - 1
MASK112 = 2**112 - 1
MASK120 = 2**120 - 1
MASK128 = 2**128 - 1
MAX_UINT = 2**256 - 1

ZERO = "0x0000000000000000000000000000000000000000"

# The base asset's revert (snekmate's erc20) when the market sends more than
# it holds: a flash loan above its balance, or a payout inside a flash
# loan's callback beyond what is left while the principal is out.
TOKEN_EXCEEDS_BALANCE = "erc20: transfer amount exceeds balance"

# (answer, updated_at) of an asset's feed, or (answer, updated_at, pending)
# when its oracle announces a pending answer (0: none).
PriceFeed = Callable[[int], "tuple[int, ...]"]


class ModelRevert(Exception):
    """The operation reverts in the contract with ``reason``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def require(cond: bool, reason: str) -> None:
    if not cond:
        raise ModelRevert(reason)


# ---------------------------------------------------------------- #
#                          PURE ARITHMETIC                          #
# ---------------------------------------------------------------- #


def ceil_div(n: int, d: int) -> int:
    """``_ceil_div``: division rounded up."""
    q, r = divmod(n, d)
    return q + 1 if r else q


def mul_div(x: int, y: int, d: int, roundup: bool) -> int:
    """snekmate ``math._mul_div``: x * y / d with full precision."""
    require(d != 0, "")
    q, r = divmod(x * y, d)
    return q + 1 if (roundup and r) else q


def growth(rate: int, elapsed: int) -> int:
    """exp(rate x elapsed) - 1 to the third order (WAD), rounded down."""
    x = rate * elapsed
    return x + x * x // (2 * WAD) + x * x // WAD * x // (6 * WAD)


def accrue_index(index: int, rate: int, elapsed: int) -> int:
    """The borrow index after ``elapsed`` seconds at ``rate``, rounded up."""
    new = index + ceil_div(index * growth(rate, elapsed), WAD)
    require(new <= MASK96, "market: index overflow")
    return new


def borrows_of(total_scaled: int, index: int) -> int:
    """Total borrows, rounded down."""
    return total_scaled * index // WAD


def utilization(total_scaled: int, index: int, cash: int) -> int:
    borrows = borrows_of(total_scaled, index)
    if borrows == 0:
        return 0
    return borrows * WAD // (borrows + cash)


def debt_of(scaled: int, index: int) -> int:
    """What a borrower owes, rounded up."""
    return ceil_div(scaled * index, WAD)


def scaled_for_borrow(amount: int, index: int) -> int:
    return ceil_div(amount * WAD, index)


def scaled_repaid(repaid: int, debt: int, scaled: int, index: int) -> int:
    if repaid == debt:
        return scaled
    return min(repaid * WAD // index, scaled)


def to_shares(assets: int, total_supply: int, total_assets: int, roundup: bool) -> int:
    return mul_div(assets, total_supply + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS, roundup)


def to_assets(shares: int, total_supply: int, total_assets: int, roundup: bool) -> int:
    return mul_div(shares, total_assets + VIRTUAL_ASSETS, total_supply + VIRTUAL_SHARES, roundup)


def value(amount: int, price: int, exponent: int) -> int:
    """Collateral value in base units, rounded down."""
    return amount * price // 10**exponent


def at_ratio(amount: int, ratio: int) -> int:
    """``amount`` times a WAD ratio of real to booked units, rounded down:
    the real units of a booked amount (``_real_amount``), or the price of a
    booked unit (``_price``) of an asset the market is short of."""
    return amount * ratio // WAD


def flash_fee(amount: int, fee_bps: int) -> int:
    return ceil_div(amount * fee_bps, BPS)


def health_factor(liquidation_value: int, debt: int) -> int:
    if debt == 0:
        return MAX_UINT
    return liquidation_value * WAD // debt


# ---------------------------------------------------------------- #
#                               STATE                               #
# ---------------------------------------------------------------- #


@dataclass
class Rates:
    """Per-second WAD rates as stored (annual // YEAR)."""

    base_rate: int = 0
    slope1: int = 4 * WAD // 100 // YEAR
    slope2: int = 60 * WAD // 100 // YEAR
    kink_bps: int = 9_000
    reserve_factor_bps: int = 1_000

    def rate_at(self, util: int) -> int:
        kink = self.kink_bps * (WAD // BPS)
        if util <= kink:
            return self.base_rate + self.slope1 * util // kink
        return self.base_rate + self.slope1 + self.slope2 * (util - kink) // (WAD - kink)


@dataclass
class Asset:
    """A listed collateral asset."""

    token: str
    exponent: int  # token decimals + oracle decimals - base decimals
    ltv_bps: int
    threshold_bps: int
    bonus_bps: int
    supply_cap: int
    price_cap: int  # 0: none
    max_oracle_age: int
    frozen: bool = False
    total_supplied: int = 0
    facility: str = ZERO
    # Real units per booked unit, WAD, after ``sync_asset`` found the market
    # short of the asset (an issuer's seizure or burn); WAD: whole.
    ratio: int = WAD
    # Booked units that left the books beyond the real units paid for them
    # (the rounding and the ratio): what the balance lacks on that account.
    short_paid: int = 0

    def real(self, booked: int) -> int:
        """``_real_amount``: the real units ``booked`` units hold (down)."""
        return at_ratio(booked, self.ratio)

    def per_booked(self, price: int) -> int:
        """A price per real unit as a price per booked unit (down)."""
        return at_ratio(price, self.ratio)


@dataclass
class Valuation:
    borrow_value: int = 0
    liquidation_value: int = 0
    total_value: int = 0
    target_value: int = 0
    target_price: int = 0
    target_balance: int = 0
    target_stale: bool = False


@dataclass
class Accrued:
    """The market as ``_accrued_words`` sees it now."""

    index: int
    last: int
    reserves: int
    interest: int


@dataclass
class LiquidationResult:
    repaid: int
    seized: int
    fee: int
    taken: int
    debt_before: int
    cap: int
    written_off: int  # debt written off (0 if none)
    from_reserves: int
    socialized: int
    hf_before: int
    valuation: Valuation
    # Collateral moved to the treasury with a write-off, by asset id.
    swept: dict[int, int] = field(default_factory=dict)
    # Real units of ``taken`` that leave the market (``taken`` unless the
    # market is short of the asset).
    sent: int = 0


@dataclass
class MarketModel:
    """A navlend market's state and operations (see module docstring)."""

    base_decimals: int
    owner: str
    guardian: str
    treasury: str
    # market word
    index: int = WAD
    last_accrual: int = 0
    total_scaled: int = 0
    paused: int = 0
    # book word
    cash: int = 0
    reserves: int = 0
    # Not in storage: base asset held beyond the cash at rest, not yet booked
    # (flash fees, donations); the principal of a flash loan whose callback
    # is running. The market holds cash + unbooked - lent.
    unbooked: int = 0
    lent: int = 0
    rates: Rates = field(default_factory=Rates)
    # control word
    min_borrow: int = 100
    small_position: int = 2_000
    dust_floor: int = 1_000
    liquidation_fee_bps: int = 0
    flash_fee_bps: int = 5
    resume_at: int = 0
    # positions
    scaled: dict[str, int] = field(default_factory=dict)
    collateral: dict[tuple[str, int], int] = field(default_factory=dict)
    authorized: dict[tuple[str, str], bool] = field(default_factory=dict)
    assets: list[Asset] = field(default_factory=list)
    # lender shares
    shares: dict[str, int] = field(default_factory=dict)
    total_supply: int = 0
    # (account, asset id) pairs that the asset's compliance source does not
    # admit (frozen, or not allowlisted): immutable, so clones share it.
    blocked: frozenset[tuple[str, int]] = frozenset()
    # Events the suite compares, in order: ("FlashLoan", receiver,
    # initiator, amount, fee) and ("SurplusBooked", caller, amount,
    # reserves), addresses lower-case. The caller reads and clears them.
    events: list[tuple] = field(default_factory=list)

    # ------------------------------------------------------------ #
    # helpers

    @property
    def base_unit(self) -> int:
        return 10**self.base_decimals

    def clone(self) -> "MarketModel":
        """A copy sharing nothing mutable (fast: the values are ints)."""
        c = copy.copy(self)
        c.scaled = dict(self.scaled)
        c.collateral = dict(self.collateral)
        c.authorized = dict(self.authorized)
        c.shares = dict(self.shares)
        c.assets = [copy.copy(a) for a in self.assets]
        c.rates = copy.copy(self.rates)
        c.events = list(self.events)
        return c

    def _commit(self, other: "MarketModel") -> None:
        self.__dict__.update(other.__dict__)

    def asset_id(self, token: str) -> int:
        for i, a in enumerate(self.assets):
            if a.token.lower() == token.lower():
                return i
        raise ModelRevert("market: asset not listed")

    def balance(self, account: str, asset_id: int) -> int:
        return self.collateral.get((account, asset_id), 0)

    def bitmap(self, account: str) -> int:
        bits = 0
        for i in range(len(self.assets)):
            if self.balance(account, i):
                bits |= 1 << i
        return bits

    def borrowers(self) -> list[str]:
        return [a for a, s in self.scaled.items() if s]

    def is_paused(self, action: int) -> bool:
        return bool(self.paused & action)

    def check_not_paused(self, action: int) -> None:
        require(not self.paused & action, "market: paused")

    def check_authorized(self, sender: str, on_behalf: str) -> None:
        if sender.lower() != on_behalf.lower():
            require(self.authorized.get((on_behalf.lower(), sender.lower()), False), "market: not authorized")

    # ------------------------------------------------------------ #
    # the base asset held

    def held(self) -> int:
        """The market's balance of the base asset (``balanceOf(market)``)."""
        return self.cash + self.unbooked - self.lent

    def _push(self, amount: int) -> None:
        """``core._push`` of the base asset: the token reverts when the
        market holds less (only possible inside a flash loan's callback:
        at rest it holds at least its cash). Called after every check of
        the operation, before its books move, as the contract pushes last."""
        require(amount <= self.held(), TOKEN_EXCEEDS_BALANCE)

    def receive_base(self, amount: int) -> None:
        """Base asset sent to the market outside its functions (a donation):
        unbooked, so neither the share price nor the utilisation moves,
        until ``book_surplus`` books it as reserves."""
        self.unbooked += amount

    def surplus(self) -> int:
        """``surplus()`` / ``_surplus``: the base asset held beyond the cash
        (zero when less is held, as while a flash loan is out)."""
        held = self.held()
        if held <= self.cash:
            return 0
        return held - self.cash

    def _book_surplus(self, sender: str) -> int:
        """``_book_surplus`` on books accrued to now: the surplus into cash
        and reserves alike (the lenders' cash + debt - reserves is
        unchanged); logs SurplusBooked when it books anything."""
        amount = self.surplus()
        if amount == 0:
            return 0
        require(self.cash + amount <= MASK128, "market: cash overflow")
        self.cash += amount
        self.reserves += amount
        self.unbooked -= amount
        self.events.append(("SurplusBooked", sender.lower(), amount, self.reserves))
        return amount

    # ------------------------------------------------------------ #
    # interest

    def accrued(self, now: int) -> Accrued:
        """``_accrued_words``: the index, accrual time and reserves as they
        would be after accruing to ``now`` (the index and time are the
        stored ones when nothing has accrued)."""
        elapsed = now - self.last_accrual
        if elapsed == 0:
            return Accrued(self.index, self.last_accrual, self.reserves, 0)
        if self.total_scaled == 0:
            # The accrual time moves even when nothing accrues.
            return Accrued(self.index, now, self.reserves, 0)
        rate = self.rates.rate_at(utilization(self.total_scaled, self.index, self.cash))
        new_index = accrue_index(self.index, rate, elapsed)
        interest = self.total_scaled * new_index // WAD - self.total_scaled * self.index // WAD
        added = interest * self.rates.reserve_factor_bps // BPS
        return Accrued(new_index, now, self.reserves + added, interest)

    def accrue(self, now: int) -> Accrued:
        """``_accrue``: stores the accrued words whenever time has passed
        (the reserves change only with interest)."""
        a = self.accrued(now)
        self.index, self.last_accrual, self.reserves = a.index, a.last, a.reserves
        return a

    def total_assets_with(self, index: int, reserves: int) -> int:
        return self.cash + borrows_of(self.total_scaled, index) - reserves

    def total_assets(self, now: int) -> int:
        a = self.accrued(now)
        return self.total_assets_with(a.index, a.reserves)

    def debt(self, account: str, now: int) -> int:
        return debt_of(self.scaled.get(account, 0), self.accrued(now).index)

    def borrow_rate(self, now: int) -> int:
        a = self.accrued(now)
        return self.rates.rate_at(utilization(self.total_scaled, a.index, self.cash))

    # ------------------------------------------------------------ #
    # prices and valuation

    def price(self, asset_id: int, now: int, feed: PriceFeed) -> tuple[int, bool]:
        answer, updated_at = feed(asset_id)[:2]
        if answer <= 0 or updated_at > now:
            # A broken feed: worth nothing, and stale.
            return 0, True
        a = self.assets[asset_id]
        p = answer
        if a.price_cap:
            p = min(p, a.price_cap)
        return a.per_booked(p), now - updated_at > a.max_oracle_age

    def admits(self, account: str, asset_id: int) -> bool:
        """Whether the asset's compliance source admits ``account``."""
        return (account.lower(), asset_id) not in self.blocked

    def valuation(self, account: str, target: int, mode: int, now: int, feed: PriceFeed) -> Valuation:
        """``_valuation``. A feed may answer a third value, the pending
        answer its oracle announces (0: none): at LTV an asset is valued at
        min(price, pending)."""
        v = Valuation()
        for i, a in enumerate(self.assets):
            bal = self.balance(account, i)
            if not bal:
                continue
            p, stale = self.price(i, now, feed)
            val = value(bal, p, a.exponent)
            v.total_value += val
            v.liquidation_value += val * a.threshold_bps // BPS
            if mode != VALUE_LIQUIDATION:
                if mode == VALUE_OPEN_BORROW:
                    require(self.admits(account, i), "market: owner not compliant")
                excluded = stale or (mode != VALUE_WITHDRAW and a.frozen)
                if not excluded:
                    answer = feed(i)
                    pending = answer[2] if len(answer) > 2 else 0
                    lend_value = val
                    if pending > 0 and a.per_booked(pending) < p:
                        lend_value = value(bal, a.per_booked(pending), a.exponent)
                    v.borrow_value += lend_value * a.ltv_bps // BPS
            if i == target:
                v.target_value, v.target_price, v.target_balance, v.target_stale = val, p, bal, stale
        return v

    def position(self, account: str, now: int, feed: PriceFeed) -> tuple[int, int, int, int, int, int]:
        """``MarketAdmin.position``: (debt, scaled, borrow value, liquidation
        value, health factor, bitmap)."""
        index = self.accrued(now).index
        scaled = self.scaled.get(account, 0)
        debt = debt_of(scaled, index)
        v = self.valuation(account, MAX_UINT, VALUE_BORROW, now, feed)
        hf = health_factor(v.liquidation_value, debt)
        return debt, scaled, v.borrow_value, v.liquidation_value, hf, self.bitmap(account)

    # ------------------------------------------------------------ #
    # lenders

    def _supply(self, assets: int, shares: int, receiver: str) -> None:
        require(shares != 0, "market: zero shares")
        require(self.cash + assets <= MASK128, "market: overflow")
        self.cash += assets
        require(receiver.lower() != ZERO, "erc20: mint to the zero address")
        self.shares[receiver] = self.shares.get(receiver, 0) + shares
        self.total_supply += shares

    def _exit(self, sender: str, assets: int, shares: int, receiver: str, owner: str) -> None:
        require(assets != 0, "market: zero assets")
        require(receiver.lower() != ZERO, "market: zero address")
        require(assets <= self.cash, "market: insufficient cash")
        require(sender.lower() == owner.lower(), "model: allowances are not modelled")
        bal = self.shares.get(owner, 0)
        require(bal >= shares, "erc20: burn amount exceeds balance")
        self._push(assets)
        self.shares[owner] = bal - shares
        self.total_supply -= shares
        self.cash -= assets

    def deposit(self, sender: str, assets: int, receiver: str, now: int) -> int:
        m = self.clone()
        m.check_not_paused(PAUSE_SUPPLY)
        a = m.accrue(now)
        shares = to_shares(assets, m.total_supply, m.total_assets_with(a.index, a.reserves), False)
        m._supply(assets, shares, receiver)
        self._commit(m)
        return shares

    def mint(self, sender: str, shares: int, receiver: str, now: int) -> int:
        m = self.clone()
        m.check_not_paused(PAUSE_SUPPLY)
        a = m.accrue(now)
        assets = to_assets(shares, m.total_supply, m.total_assets_with(a.index, a.reserves), True)
        m._supply(assets, shares, receiver)
        self._commit(m)
        return assets

    def withdraw(self, sender: str, assets: int, receiver: str, owner: str, now: int) -> int:
        m = self.clone()
        m.check_not_paused(PAUSE_WITHDRAW)
        a = m.accrue(now)
        shares = to_shares(assets, m.total_supply, m.total_assets_with(a.index, a.reserves), True)
        m._exit(sender, assets, shares, receiver, owner)
        self._commit(m)
        return shares

    def redeem(self, sender: str, shares: int, receiver: str, owner: str, now: int) -> int:
        m = self.clone()
        m.check_not_paused(PAUSE_WITHDRAW)
        a = m.accrue(now)
        assets = to_assets(shares, m.total_supply, m.total_assets_with(a.index, a.reserves), False)
        m._exit(sender, assets, shares, receiver, owner)
        self._commit(m)
        return assets

    def transfer_shares(self, sender: str, to: str, amount: int) -> None:
        bal = self.shares.get(sender, 0)
        require(bal >= amount, "erc20: transfer amount exceeds balance")
        self.shares[sender] = bal - amount
        self.shares[to] = self.shares.get(to, 0) + amount

    # views
    def preview_deposit(self, assets: int, now: int) -> int:
        return to_shares(assets, self.total_supply, self.total_assets(now), False)

    def preview_mint(self, shares: int, now: int) -> int:
        return to_assets(shares, self.total_supply, self.total_assets(now), True)

    def preview_withdraw(self, assets: int, now: int) -> int:
        return to_shares(assets, self.total_supply, self.total_assets(now), True)

    def preview_redeem(self, shares: int, now: int) -> int:
        return to_assets(shares, self.total_supply, self.total_assets(now), False)

    def max_withdraw(self, owner: str, now: int) -> int:
        if self.is_paused(PAUSE_WITHDRAW):
            return 0
        return min(to_assets(self.shares.get(owner, 0), self.total_supply, self.total_assets(now), False), self.cash)

    def max_redeem(self, owner: str, now: int) -> int:
        if self.is_paused(PAUSE_WITHDRAW):
            return 0
        total = self.total_assets(now)
        shares = min(self.shares.get(owner, 0), to_shares(self.cash, self.total_supply, total, False))
        # Never more than ``redeem`` accepts: shares worth no assets are refused.
        if to_assets(shares, self.total_supply, total, False) == 0:
            return 0
        return shares

    # ------------------------------------------------------------ #
    # borrowers

    def set_authorization(self, sender: str, operator: str, authorized: bool) -> None:
        require(operator.lower() != ZERO, "market: zero operator")
        self.authorized[(sender.lower(), operator.lower())] = authorized

    def _set_balance(self, account: str, asset_id: int, bal: int) -> None:
        if bal:
            self.collateral[(account, asset_id)] = bal
        else:
            self.collateral.pop((account, asset_id), None)

    def supply_collateral(self, sender: str, token: str, amount: int, on_behalf: str) -> None:
        m = self.clone()
        m.check_not_paused(PAUSE_DEPOSIT_COLLATERAL)
        require(amount != 0, "market: zero amount")
        require(on_behalf.lower() != ZERO, "market: zero address")
        i = m.asset_id(token)
        a = m.assets[i]
        require(not a.frozen, "market: asset frozen")
        if on_behalf.lower() != sender.lower():
            require(m.admits(on_behalf, i), "market: beneficiary not compliant")
        # The contract packs the total into 120 bits next to the cap; the
        # model follows the documented intent (the check on the sum).
        require(a.total_supplied + amount <= a.supply_cap, "market: supply cap exceeded")
        a.total_supplied += amount
        m._set_balance(on_behalf, i, m.balance(on_behalf, i) + amount)
        self._commit(m)

    def withdraw_collateral(self, sender: str, token: str, amount: int, on_behalf: str, receiver: str, now: int, feed: PriceFeed) -> int:
        """Returns the real units paid to ``receiver`` (``amount`` unless the
        market is short of the asset)."""
        m = self.clone()
        m.check_not_paused(PAUSE_WITHDRAW_COLLATERAL)
        m.check_authorized(sender, on_behalf)
        require(amount != 0, "market: zero amount")
        require(receiver.lower() != ZERO, "market: zero address")
        i = m.asset_id(token)
        require(m.admits(on_behalf, i), "market: owner not compliant")
        if receiver.lower() != on_behalf.lower():
            require(m.admits(receiver, i), "market: receiver not compliant")
        bal = m.balance(on_behalf, i)
        require(bal >= amount, "market: insufficient collateral")
        m._set_balance(on_behalf, i, bal - amount)
        m.assets[i].total_supplied -= amount
        scaled = m.scaled.get(on_behalf, 0)
        if scaled:
            debt = debt_of(scaled, m.accrued(now).index)
            v = m.valuation(on_behalf, i, VALUE_WITHDRAW, now, feed)
            require(not v.target_stale, "market: stale price")
            require(v.borrow_value >= debt, "market: exceeds borrow limit")
        paid = m.assets[i].real(amount)
        m.assets[i].short_paid += amount - paid
        self._commit(m)
        return paid

    def borrow(self, sender: str, amount: int, on_behalf: str, receiver: str, now: int, feed: PriceFeed) -> int:
        m = self.clone()
        m.check_not_paused(PAUSE_BORROW)
        m.check_authorized(sender, on_behalf)
        require(amount != 0, "market: zero amount")
        require(receiver.lower() != ZERO, "market: zero address")
        a = m.accrue(now)
        index = a.index
        require(m.cash >= amount, "market: insufficient cash")
        added = scaled_for_borrow(amount, index)
        scaled = m.scaled.get(on_behalf, 0) + added
        require(scaled <= MASK112, "market: overflow")
        debt = debt_of(scaled, index)
        require(debt >= m.min_borrow * m.base_unit, "market: below min borrow")
        v = m.valuation(on_behalf, MAX_UINT, VALUE_OPEN_BORROW, now, feed)
        require(v.borrow_value >= debt, "market: exceeds borrow limit")
        require(m.total_scaled + added <= MASK112, "market: overflow")
        m._push(amount)
        m.scaled[on_behalf] = scaled
        m.total_scaled += added
        m.index, m.last_accrual = index, now
        m.cash -= amount
        self._commit(m)
        return debt

    def _reduce_debt(self, borrower: str, removed: int, index: int, now: int, repaid: int) -> None:
        self.scaled[borrower] = self.scaled.get(borrower, 0) - removed
        self.total_scaled -= removed
        self.index, self.last_accrual = index, now
        self.cash += repaid

    def repay(self, sender: str, amount: int, on_behalf: str, now: int) -> int:
        m = self.clone()
        a = m.accrue(now)
        index = a.index
        scaled = m.scaled.get(on_behalf, 0)
        require(scaled != 0, "market: no debt")
        debt = debt_of(scaled, index)
        repaid = min(amount, debt)
        require(repaid != 0, "market: zero amount")
        removed = scaled_repaid(repaid, debt, scaled, index)
        m._reduce_debt(on_behalf, removed, index, now, repaid)
        self._commit(m)
        return repaid

    # ------------------------------------------------------------ #
    # liquidation

    def close_cap(self, v: Valuation, debt: int) -> int:
        small = self.small_position * self.base_unit
        if v.liquidation_value * WAD >= CLOSE_FACTOR_HF_THRESHOLD * debt and debt >= small and v.target_value >= small:
            return debt * CLOSE_FACTOR_BPS // BPS
        return debt

    def liquidation_amounts(self, asset_id: int, v: Valuation, debt: int, max_repay: int) -> tuple[int, int]:
        """``_liquidation_amounts``."""
        cap = self.close_cap(v, debt)
        repaid = min(max_repay, cap)
        a = self.assets[asset_id]
        bonus = BPS + a.bonus_bps
        unit = 10**a.exponent
        seized = mul_div(repaid * bonus, unit, BPS * v.target_price, False)
        if seized >= v.target_balance:
            seized = v.target_balance
            repaid = min(repaid, mul_div(seized * v.target_price, BPS, unit * bonus, True))
        elif repaid < debt:
            dust = self.dust_floor * self.base_unit
            most = 0
            if debt > dust and v.target_value > dust:
                most = min(debt - dust, (v.target_value - dust) * BPS // bonus)
            if repaid > most:
                repaid = most
                seized = mul_div(repaid * bonus, unit, BPS * v.target_price, False)
        require((seized != 0 and repaid != 0) or seized == v.target_balance, "market: nothing to liquidate")
        return repaid, seized

    def protocol_fee(self, asset_id: int, seized: int) -> int:
        if self.liquidation_fee_bps == 0:
            return 0
        bonus = BPS + self.assets[asset_id].bonus_bps
        bonus_part = seized - mul_div(seized, BPS, bonus, True)
        return bonus_part * self.liquidation_fee_bps // BPS

    def liquidation_check(self, v: Valuation, debt: int, now: int) -> None:
        """``_liquidation_check``: the preconditions ``liquidate`` and its
        preview share, in the market's order (the preview answers (0, 0)
        where ``liquidate`` reverts)."""
        require(now >= self.resume_at, "market: liquidation grace period")
        require(not self.paused & PAUSE_LIQUIDATION, "market: liquidation paused")
        require(debt != 0, "market: no debt")
        require(v.target_balance != 0, "market: no such collateral")
        require(v.liquidation_value < debt, "market: position healthy")
        require(v.target_price != 0, "market: bad price")

    def liquidate(
        self,
        sender: str,
        borrower: str,
        token: str,
        max_repay: int,
        min_out: int,
        redeem_shares: bool,
        receiver: str,
        now: int,
        feed: PriceFeed,
    ) -> LiquidationResult:
        """Market-side effects of ``liquidate``. The redeem route's payout
        and its ``min_out`` are the facility's (checked by the caller); the
        share route's ``min_out`` is checked here."""
        m = self.clone()
        require(receiver.lower() != ZERO, "market: zero address")
        i = m.asset_id(token)
        a = m.accrue(now)
        index = a.index
        scaled = m.scaled.get(borrower, 0)
        debt = debt_of(scaled, index)
        v = m.valuation(borrower, i, VALUE_LIQUIDATION, now, feed)
        m.liquidation_check(v, debt, now)
        cap = m.close_cap(v, debt)
        repaid, seized = m.liquidation_amounts(i, v, debt, max_repay)
        fee = m.protocol_fee(i, seized)
        taken = seized - fee
        left = v.target_balance - seized
        m._set_balance(borrower, i, left)
        m.assets[i].total_supplied -= taken
        removed = scaled_repaid(repaid, debt, scaled, index)
        m._reduce_debt(borrower, removed, index, now, repaid)
        scaled_left = scaled - removed
        remaining_value = v.total_value - v.target_value + value(left, v.target_price, m.assets[i].exponent)
        written = from_res = 0
        swept: dict[int, int] = {}
        if (
            scaled_left != 0
            and remaining_value < debt_of(scaled_left, index)
            and (remaining_value == 0 or remaining_value < m.dust_floor * m.base_unit)
        ):
            if remaining_value != 0 and borrower.lower() != m.treasury.lower():
                # The collateral left goes to the treasury's position.
                for j in range(len(m.assets)):
                    bal = m.balance(borrower, j)
                    if bal:
                        m._set_balance(borrower, j, 0)
                        m._set_balance(m.treasury, j, m.balance(m.treasury, j) + bal)
                        swept[j] = bal
            written = debt_of(scaled_left, index)
            m.scaled[borrower] -= scaled_left
            m.total_scaled -= min(scaled_left, m.total_scaled)
            from_res = min(m.reserves, written)
            m.reserves -= from_res
        if fee:
            m._set_balance(m.treasury, i, m.balance(m.treasury, i) + fee)
        sent = m.assets[i].real(taken)
        m.assets[i].short_paid += taken - sent
        if redeem_shares:
            require(m.assets[i].facility.lower() != ZERO, "market: no facility")
        else:
            require(sent >= min_out, "market: slippage")
        self._commit(m)
        return LiquidationResult(
            repaid=repaid,
            seized=seized,
            fee=fee,
            taken=taken,
            debt_before=debt,
            cap=cap,
            written_off=written,
            from_reserves=from_res,
            socialized=written - from_res,
            hf_before=health_factor(v.liquidation_value, debt),
            valuation=v,
            swept=swept,
            sent=sent,
        )

    def preview_liquidation(self, borrower: str, token: str, max_repay: int, now: int, feed: PriceFeed) -> tuple[int, int]:
        i = self.asset_id(token)
        a = self.accrued(now)
        debt = debt_of(self.scaled.get(borrower, 0), a.index)
        v = self.valuation(borrower, i, VALUE_LIQUIDATION, now, feed)
        try:
            self.liquidation_check(v, debt, now)
        except ModelRevert:
            return 0, 0
        return self.liquidation_amounts(i, v, debt, max_repay)

    # ------------------------------------------------------------ #
    # flash loans

    def flash_loan(
        self,
        receiver: str,
        initiator: str,
        amount: int,
        callback: Callable[["MarketModel"], object] | None = None,
        token_ok: bool = True,
    ) -> int:
        """``flashLoan``: the checks (no cash check), the principal out (the
        token reverts above the balance held), ``callback(model)`` for what
        the receiver does with the market meanwhile, then ``amount + fee``
        back. The books are not touched: the fee stays unbooked (see
        ``book_surplus``). Returns the fee. A receiver that fails its side
        (wrong return value, no approval) is outside the model."""
        m = self.clone()
        require(token_ok, "market: unsupported token")
        require(not m.paused & PAUSE_FLASH_LOAN, "market: flash loans paused")
        require(amount != 0, "market: zero amount")
        fee = flash_fee(amount, m.flash_fee_bps)
        m._push(amount)
        m.lent += amount
        if callback is not None:
            callback(m)
        m.lent -= amount
        m.unbooked += fee
        m.events.append(("FlashLoan", receiver.lower(), initiator.lower(), amount, fee))
        self._commit(m)
        return fee

    def book_surplus(self, sender: str, now: int) -> int:
        """``book_surplus`` (anyone): accrues, then books the surplus as
        reserves; returns the amount booked."""
        m = self.clone()
        m.accrue(now)
        amount = m._book_surplus(sender)
        self._commit(m)
        return amount

    def max_flash_loan(self) -> int:
        return 0 if self.paused & PAUSE_FLASH_LOAN else self.cash

    # ------------------------------------------------------------ #
    # owner and guardian

    def _check_owner(self, sender: str) -> None:
        require(sender.lower() == self.owner.lower(), "ownable: caller is not the owner")

    def _check_guardian_or_owner(self, sender: str) -> None:
        require(sender.lower() in (self.guardian.lower(), self.owner.lower()), "market: not guardian")

    def withdraw_reserves(self, sender: str, amount: int, now: int) -> None:
        m = self.clone()
        m._check_owner(sender)
        m.accrue(now)
        m._book_surplus(sender)
        require(amount != 0, "market: zero amount")
        require(amount <= m.reserves, "market: exceeds reserves")
        require(amount <= m.cash, "market: insufficient cash")
        m._push(amount)
        m.cash -= amount
        m.reserves -= amount
        self._commit(m)

    def pause(self, sender: str, actions: int) -> None:
        require(actions != 0 and actions & ~PAUSE_ALL == 0, "market: bad actions")
        if actions & PAUSE_LIQUIDATION:
            self._check_owner(sender)
        else:
            self._check_guardian_or_owner(sender)
        self.paused |= actions

    def unpause(self, sender: str, actions: int, grace: int, now: int) -> None:
        require(actions != 0 and actions & ~PAUSE_ALL == 0, "market: bad actions")
        if actions & PAUSE_LIQUIDATION:
            self._check_owner(sender)
            require(grace <= MAX_GRACE_PERIOD, "market: grace too long")
            self.resume_at = now + grace
        else:
            self._check_guardian_or_owner(sender)
            require(grace == 0, "market: grace without liquidation")
        self.paused &= ~actions

    def set_rates(self, sender: str, base: int, s1: int, s2: int, kink: int, rf: int, now: int) -> None:
        m = self.clone()
        m._check_owner(sender)
        m.accrue(now)
        require(base <= MAX_ANNUAL_RATE and s1 <= MAX_ANNUAL_RATE and s2 <= MAX_ANNUAL_RATE, "market: rate too high")
        require(s2 >= s1, "market: slope2 below slope1")
        require(MIN_KINK_BPS <= kink <= MAX_KINK_BPS, "market: bad kink")
        require(rf <= MAX_RESERVE_FACTOR_BPS, "market: bad reserve factor")
        m.rates = Rates(base // YEAR, s1 // YEAR, s2 // YEAR, kink, rf)
        self._commit(m)

    def set_fees(self, sender: str, flash_bps: int, liq_bps: int) -> None:
        self._check_owner(sender)
        require(flash_bps <= MAX_FLASH_FEE_BPS, "market: flash fee too high")
        require(liq_bps <= MAX_LIQUIDATION_FEE_BPS, "market: liquidation fee too high")
        self.flash_fee_bps, self.liquidation_fee_bps = flash_bps, liq_bps

    def set_borrow_limits(self, sender: str, min_borrow: int, small: int, dust: int) -> None:
        self._check_owner(sender)
        require(min_borrow <= MASK48 and small <= MASK48, "market: limit too high")
        require(dust <= small, "market: dust above small position")
        self.min_borrow, self.small_position, self.dust_floor = min_borrow, small, dust

    def set_asset_risk(self, sender: str, token: str, ltv: int, threshold: int, bonus: int) -> None:
        self._check_owner(sender)
        i = self.asset_id(token)
        require(ltv != 0 and ltv <= MAX_LTV_BPS, "market: bad ltv")
        require(threshold > ltv, "market: threshold not above ltv")
        require(bonus != 0 and bonus <= MAX_BONUS_BPS, "market: bad bonus")
        require(threshold * (BPS + bonus) < BPS * BPS, "market: threshold x bonus >= 1")
        a = self.assets[i]
        a.ltv_bps, a.threshold_bps, a.bonus_bps = ltv, threshold, bonus

    def set_asset_limits(self, sender: str, token: str, supply_cap: int, price_cap: int, max_age: int) -> None:
        self._check_owner(sender)
        i = self.asset_id(token)
        require(supply_cap <= MASK120, "market: bad supply cap")
        require(MIN_ORACLE_AGE <= max_age <= MAX_ORACLE_AGE, "market: bad oracle age")
        a = self.assets[i]
        a.supply_cap, a.price_cap, a.max_oracle_age = supply_cap, price_cap, max_age

    def set_asset_frozen(self, sender: str, token: str, frozen: bool) -> None:
        if frozen:
            self._check_guardian_or_owner(sender)
        else:
            self._check_owner(sender)
        a = self.assets[self.asset_id(token)]
        require(frozen or a.ratio == WAD, "market: asset short")
        a.frozen = frozen

    def sync_asset(self, token: str, balance: int) -> int:
        """``sync_asset``, given the market's balance of the token: the books
        recognise it (ratio = balance / booked, at most one, rounded down);
        a new loss freezes the asset. Returns the ratio."""
        a = self.assets[self.asset_id(token)]
        ratio = WAD if balance >= a.total_supplied else balance * WAD // a.total_supplied
        if ratio < a.ratio:
            a.frozen = True
        a.ratio = ratio
        return ratio


def facility_payout(shares: int, nav: int, share_decimals: int, oracle_decimals: int, payout_decimals: int, fee_bps: int) -> int:
    """RedemptionFacility's payout: floor(floor(shares x nav x 10^pd /
    10^(sd + od)) x (10_000 - fee) / 10_000)."""
    gross = mul_div(shares, nav * 10**payout_decimals, 10 ** (share_decimals + oracle_decimals), False)
    return mul_div(gross, BPS - fee_bps, BPS, False)
