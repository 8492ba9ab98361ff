"""Reference model of a navlend market: its state, and its operations as
the contracts perform them, for the property suite to compare with the
bytecode operation by operation.

The arithmetic is not here: every rule (interest and the index, shares,
valuation, health, the close factor and dust, liquidation and seized
amounts, the write-off, fees, the parameter bounds) is a pure function of
:mod:`navlend.rules`, which the keeper and the tools call too. This module
is the stateful shell around them: what the market stores (the books,
positions, assets, shares, pause bits, authorisations), each operation's
checks in the contract's order, and what it commits.

:class:`MarketModel` holds a market's state and applies operations. Each
operation either returns what the contract returns and commits the new
state, or raises :class:`ModelRevert` (``navlend.rules.arith.Revert``)
with the contract's revert string and leaves the state untouched. Prices
are supplied by the caller (a function ``price_feed(asset_id) -> (answer,
updated_at)``), since oracles are outside the market. The base asset the
market holds is ``cash + unbooked - lent``: the model tracks what the
contract does not book (``unbooked``: flash fees and donations) and the
principal of a flash loan in progress (``lent``), which is all
``book_surplus`` needs. The events the property suite compares
(``FlashLoan``, ``SurplusBooked``) are appended to ``events``, for the
caller to read and clear.

Flash loans leave the books untouched: the fee stays unbooked (a surplus
of base asset held over the cash, like a donation) until ``book_surplus``
or ``withdraw_reserves`` books the surplus into cash and reserves alike
after accruing; a loan, or any payout, above the base asset the market
physically holds fails in the token (inside a flash loan's callback the
principal is out).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

from navlend.constants import (  # noqa: F401  (re-exported: the model's vocabulary)
    BPS,
    CLOSE_FACTOR_BPS,
    CLOSE_FACTOR_HF_THRESHOLD,
    MASK48,
    MASK112,
    MASK128,
    MAX_ASSETS,
    MAX_UINT256,
    PAUSE_ALL,
    PAUSE_BORROW,
    PAUSE_DEPOSIT_COLLATERAL,
    PAUSE_FLASH_LOAN,
    PAUSE_LIQUIDATION,
    PAUSE_SUPPLY,
    PAUSE_WITHDRAW,
    PAUSE_WITHDRAW_COLLATERAL,
    VALUE_BORROW,
    VALUE_LIQUIDATION,
    VALUE_OPEN_BORROW,
    VALUE_WITHDRAW,
    VIRTUAL_ASSETS,
    VIRTUAL_SHARES,
    WAD,
    ZERO_ADDRESS,
)
from navlend.rules import liquidation as liq
from navlend.rules import params
from navlend.rules import shares as vault
from navlend.rules.arith import Revert as ModelRevert
from navlend.rules.arith import at_ratio, ceil_div, mul_div, require  # noqa: F401  (re-exported)
from navlend.rules.fees import flash_fee, redemption_payout
from navlend.rules.health import health_factor
from navlend.rules.interest import (  # noqa: F401  (re-exported)
    Accrued,
    Book,
    Rates,
    accrued,
    borrows_of,
    debt_of,
    scaled_for_borrow,
    scaled_repaid,
    utilization,
)
from navlend.rules.shares import to_assets, to_shares  # noqa: F401  (re-exported)
from navlend.rules.valuation import Collateral, Valuation, market_price, pending_price, valuation, value

# The base asset's revert (snekmate's erc20) when the market sends more than
# it holds: a flash loan above its balance, or a payout inside a flash
# loan's callback beyond what is left while the principal is out.
TOKEN_EXCEEDS_BALANCE = "erc20: transfer amount exceeds balance"

# (answer, updated_at) of an asset's feed, or (answer, updated_at, pending)
# when its oracle announces a pending answer (0: none).
PriceFeed = Callable[[int], "tuple[int, ...]"]


# ---------------------------------------------------------------- #
#                               STATE                               #
# ---------------------------------------------------------------- #


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
    facility: str = ZERO_ADDRESS
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

    @property
    def limits(self) -> liq.CloseLimits:
        """The market-wide limits of a liquidation (the control word)."""
        return liq.CloseLimits(self.base_unit, self.small_position, self.dust_floor, self.liquidation_fee_bps)

    def book(self) -> Book:
        """The lending books as stored (the market and book words)."""
        return Book(self.index, self.last_accrual, self.total_scaled, self.cash, self.reserves)

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
        """``_accrued_words``: the books as they would be after accruing to
        ``now`` (the index and time are the stored ones when nothing has
        accrued)."""
        return accrued(self.book(), self.rates, now)

    def accrue(self, now: int) -> Accrued:
        """``_accrue``: stores the accrued words whenever time has passed
        (the reserves change only with interest)."""
        a = self.accrued(now)
        self.index, self.last_accrual, self.reserves = a.index, a.last, a.reserves
        return a

    def total_assets_with(self, index: int, reserves: int) -> int:
        return vault.total_assets(self.cash, self.total_scaled, index, reserves)

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
        """``_price``: the feed's answer capped, per booked unit, and stale."""
        return self._price_of(asset_id, feed(asset_id), now)

    def _price_of(self, asset_id: int, answer: tuple[int, ...], now: int) -> tuple[int, bool]:
        """``_price`` of one feed answer (read once by the caller)."""
        a = self.assets[asset_id]
        return market_price(answer[0], answer[1], now, a.price_cap, a.ratio, a.max_oracle_age)

    def admits(self, account: str, asset_id: int) -> bool:
        """Whether the asset's compliance source admits ``account``."""
        return (account.lower(), asset_id) not in self.blocked

    def priced_collateral(self, account: str, now: int, feed: PriceFeed) -> dict[int, Collateral]:
        """The account's collateral by asset id, priced as the market
        prices it. A feed may answer a third value, the pending answer its
        oracle announces (0: none)."""
        held: dict[int, Collateral] = {}
        for i, a in enumerate(self.assets):
            bal = self.balance(account, i)
            if not bal:
                continue
            answer = feed(i)
            p, stale = self._price_of(i, answer, now)
            pending = pending_price(answer[2], a.ratio) if len(answer) > 2 else None
            held[i] = Collateral(bal, p, a.exponent, a.ltv_bps, a.threshold_bps, stale, a.frozen, pending)
        return held

    def valuation(self, account: str, target: int, mode: int, now: int, feed: PriceFeed) -> Valuation:
        """``_valuation``; in ``VALUE_OPEN_BORROW`` the owner must be
        compliant on every asset it holds."""
        held = self.priced_collateral(account, now, feed)
        if mode == VALUE_OPEN_BORROW:
            for i in held:
                require(self.admits(account, i), "market: owner not compliant")
        return valuation(held, mode, target)

    def position(self, account: str, now: int, feed: PriceFeed) -> tuple[int, int, int, int, int, int]:
        """``MarketAdmin.position``: (debt, scaled, borrow value, liquidation
        value, health factor, bitmap)."""
        index = self.accrued(now).index
        scaled = self.scaled.get(account, 0)
        debt = debt_of(scaled, index)
        v = self.valuation(account, MAX_UINT256, VALUE_BORROW, now, feed)
        hf = health_factor(v.liquidation_value, debt)
        return debt, scaled, v.borrow_value, v.liquidation_value, hf, self.bitmap(account)

    # ------------------------------------------------------------ #
    # lenders

    def _supply(self, assets: int, shares: int, receiver: str) -> None:
        require(shares != 0, "market: zero shares")
        require(self.cash + assets <= MASK128, "market: overflow")
        self.cash += assets
        require(receiver.lower() != ZERO_ADDRESS, "erc20: mint to the zero address")
        self.shares[receiver] = self.shares.get(receiver, 0) + shares
        self.total_supply += shares

    def _exit(self, sender: str, assets: int, shares: int, receiver: str, owner: str) -> None:
        require(assets != 0, "market: zero assets")
        require(receiver.lower() != ZERO_ADDRESS, "market: zero address")
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
        return vault.max_withdraw(self.shares.get(owner, 0), self.total_supply, self.total_assets(now), self.cash)

    def max_redeem(self, owner: str, now: int) -> int:
        if self.is_paused(PAUSE_WITHDRAW):
            return 0
        return vault.max_redeem(self.shares.get(owner, 0), self.total_supply, self.total_assets(now), self.cash)

    # ------------------------------------------------------------ #
    # borrowers

    def set_authorization(self, sender: str, operator: str, authorized: bool) -> None:
        require(operator.lower() != ZERO_ADDRESS, "market: zero operator")
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
        require(on_behalf.lower() != ZERO_ADDRESS, "market: zero address")
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
        require(receiver.lower() != ZERO_ADDRESS, "market: zero address")
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
        require(receiver.lower() != ZERO_ADDRESS, "market: zero address")
        a = m.accrue(now)
        index = a.index
        require(m.cash >= amount, "market: insufficient cash")
        added = scaled_for_borrow(amount, index)
        scaled = m.scaled.get(on_behalf, 0) + added
        require(scaled <= MASK112, "market: overflow")
        debt = debt_of(scaled, index)
        require(debt >= m.min_borrow * m.base_unit, "market: below min borrow")
        v = m.valuation(on_behalf, MAX_UINT256, VALUE_OPEN_BORROW, now, feed)
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

    def seizable(self, asset_id: int, v: Valuation) -> liq.Seizable:
        """The target asset of a valuation, as a liquidation seizes it."""
        a = self.assets[asset_id]
        return liq.Seizable(v.target_balance, v.target_price, a.exponent, a.bonus_bps, a.ratio)

    def liquidation_amounts(self, asset_id: int, v: Valuation, debt: int, max_repay: int) -> tuple[int, int]:
        """``_liquidation_amounts``: (repaid, seized)."""
        return liq.repay_and_seize(debt, v.liquidation_value, self.seizable(asset_id, v), self.limits, max_repay)

    def liquidation_check(self, v: Valuation, debt: int, now: int) -> None:
        """``_liquidation_check``: the preconditions ``liquidate`` and its
        preview share, in the market's order (the preview answers (0, 0)
        where ``liquidate`` reverts)."""
        liq.check_liquidation(
            debt, v.liquidation_value, liq.Seizable(v.target_balance, v.target_price, 0, 0),
            now=now, resume_at=self.resume_at, paused=self.paused,
        )

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
        require(receiver.lower() != ZERO_ADDRESS, "market: zero address")
        i = m.asset_id(token)
        a = m.accrue(now)
        index = a.index
        scaled = m.scaled.get(borrower, 0)
        debt = debt_of(scaled, index)
        v = m.valuation(borrower, i, VALUE_LIQUIDATION, now, feed)
        m.liquidation_check(v, debt, now)
        target, limits = m.seizable(i, v), m.limits
        cap = liq.close_cap(debt, v.liquidation_value, target.value, limits)
        amounts = liq.amounts(debt, v.liquidation_value, target, limits, max_repay)
        repaid, seized, fee, taken, sent = amounts.repaid, amounts.seized, amounts.fee, amounts.taken, amounts.sent
        left = v.target_balance - seized
        m._set_balance(borrower, i, left)
        m.assets[i].total_supplied -= taken
        removed = scaled_repaid(repaid, debt, scaled, index)
        m._reduce_debt(borrower, removed, index, now, repaid)
        scaled_left = scaled - removed
        remaining_value = v.total_value - v.target_value + value(left, v.target_price, m.assets[i].exponent)
        written = from_res = 0
        swept: dict[int, int] = {}
        if liq.write_off_due(debt_of(scaled_left, index), remaining_value, limits):
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
        m.assets[i].short_paid += taken - sent
        if redeem_shares:
            require(m.assets[i].facility.lower() != ZERO_ADDRESS, "market: no facility")
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
        params.check_actions(actions)
        if actions & PAUSE_LIQUIDATION:
            self._check_owner(sender)
        else:
            self._check_guardian_or_owner(sender)
        self.paused |= actions

    def unpause(self, sender: str, actions: int, grace: int, now: int) -> None:
        params.check_actions(actions)
        if actions & PAUSE_LIQUIDATION:
            self._check_owner(sender)
            params.check_grace(actions, grace)
            self.resume_at = now + grace
        else:
            self._check_guardian_or_owner(sender)
            params.check_grace(actions, grace)
        self.paused &= ~actions

    def set_rates(self, sender: str, base: int, s1: int, s2: int, kink: int, rf: int, now: int) -> None:
        m = self.clone()
        m._check_owner(sender)
        m.accrue(now)
        params.check_rates(base, s1, s2, kink, rf)
        m.rates = Rates.from_annual(base, s1, s2, kink, rf)
        self._commit(m)

    def set_fees(self, sender: str, flash_bps: int, liq_bps: int) -> None:
        self._check_owner(sender)
        params.check_fees(flash_bps, liq_bps)
        self.flash_fee_bps, self.liquidation_fee_bps = flash_bps, liq_bps

    def set_borrow_limits(self, sender: str, min_borrow: int, small: int, dust: int) -> None:
        self._check_owner(sender)
        params.check_borrow_limits(min_borrow, small, dust)
        self.min_borrow, self.small_position, self.dust_floor = min_borrow, small, dust

    def set_asset_risk(self, sender: str, token: str, ltv: int, threshold: int, bonus: int) -> None:
        self._check_owner(sender)
        i = self.asset_id(token)
        params.check_risk(ltv, threshold, bonus)
        a = self.assets[i]
        a.ltv_bps, a.threshold_bps, a.bonus_bps = ltv, threshold, bonus

    def set_asset_limits(self, sender: str, token: str, supply_cap: int, price_cap: int, max_age: int) -> None:
        self._check_owner(sender)
        i = self.asset_id(token)
        params.check_asset_limits(supply_cap, max_age)
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
    """RedemptionFacility's net payout, by its token decimals (see
    ``rules.fees.redemption_payout``)."""
    return redemption_payout(shares, nav, share_decimals + oracle_decimals - payout_decimals, fee_bps)[0]
