"""Health from the index: every position's health factor computed locally,
vectorised, so that the keeper asks the chain (the Lens) only about the
few positions that are liquidatable or near the edge.

What the market computes (``MarketViews.position``, which the Lens reads):

- debt = ceil(scaled debt x index / WAD), the index accrued to the block's
  timestamp (``navlend.rules.interest.accrued``: the stored index, its
  last accrual time, the curve at the stored utilisation);
- liquidation value = sum over held assets of
  floor(floor(balance x price / 10^exponent) x threshold / BPS);
- health factor = floor(liquidation value x WAD / debt), max without debt;
  liquidatable when the liquidation value is below the debt.

The price is the one liquidation uses (``_price``): the feed's latest
*applied* round (for the issuer's ``NavOracle``: the last ``NavPublished``
or ``PendingConfirmed``; a ``NavPending`` round does not move it, it only
lowers the value at LTV), capped by the asset's price cap, times
``asset_ratio`` while the market is short of the asset, and zero when the
feed is broken (no positive answer, or a strike time in the future).
Staleness does not matter here: at the liquidation threshold every asset
counts at its last price. Every exact figure comes from
:mod:`navlend.rules` (``accrued``, ``market_price``, ``valuation``,
``debt_of``, ``health_factor``), never restated here.

Representation. Amounts are 1e18-scaled and their products reach 2^250,
past int64 and float64's 53 bits. The screen runs in float64 over all
positions (a few microseconds per thousand), and bounds its own error: each
asset's two floors lose under 2 base units, the debt's ceiling adds under
1, and float64 rounding is a relative 1e-15 per operation (bounded here by
:data:`FLOAT_RELATIVE_ERROR`, 1e-12, a thousandfold margin). Positions
whose float figures cannot decide the comparison with the debt, and those
within ``edge_bps`` of it, are recomputed exactly with Python integers, one
by one: the exact path is the reference model's arithmetic, so the
flagged positions' health factors equal the market's to the unit.
Measured here (2 shared cores, 100,000 positions x 3 assets, 1.5 % of them
near the edge): the screen 24-32 ms; numpy object arrays of Python ints,
exact for all positions, 120 ms (past the 100 ms budget per block); the
rules one position at a time (:func:`exact_healths`, the periodic sweep)
1.3 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from navlend.constants import BPS, MAX_ORACLE_AGE, VALUE_LIQUIDATION, WAD
from navlend.rules.health import health_factor, liquidatable
from navlend.rules.interest import Book, Rates, accrued, debt_of
from navlend.rules.valuation import Collateral, market_price, valuation

from keepers.types import AccountHealth, to_address

# A bound on float64's relative error over the screen's few operations
# (each is within 2^-53 ~ 1.1e-16; a handful of them stay far below this).
FLOAT_RELATIVE_ERROR = 1e-12
# Positions within this distance of the edge (liquidation value below
# debt x (1 + edge)) are recomputed exactly and re-checked with the Lens.
DEFAULT_EDGE_BPS = 50


@dataclass(frozen=True)
class AssetPricing:
    """One listed asset as liquidation prices it.

    Either event-sourced (``answer`` and ``updated_at``, the feed's latest
    applied round, priced by the market's rule with ``price_cap`` and
    ``ratio``), or read: ``read_price`` is the market's ``asset_price`` at
    the block being screened (for feeds whose answer no event gives: a
    wrapper's share price, an adapter over another protocol's oracle), and
    then the answer fields are ignored."""

    token: str
    asset_id: int
    exponent: int
    ltv_bps: int
    threshold_bps: int
    answer: int = 0
    updated_at: int = 0
    price_cap: int = 0
    ratio: int = WAD
    max_oracle_age: int = MAX_ORACLE_AGE
    read_price: int | None = None

    def __post_init__(self) -> None:
        if self.asset_id < 0 or self.exponent < 0:
            raise ValueError(f"asset {self.token}: asset id and exponent must be non-negative")
        if not 0 <= self.threshold_bps <= BPS or not 0 <= self.ltv_bps <= BPS:
            raise ValueError(f"asset {self.token}: LTV and threshold must be in basis points (0..{BPS})")
        if self.ratio < 0 or self.price_cap < 0:
            raise ValueError(f"asset {self.token}: ratio and price cap must be non-negative")
        if self.read_price is not None and self.read_price < 0:
            raise ValueError(f"asset {self.token}: a read price must be non-negative")

    def price(self, now: int) -> int:
        """The price liquidation uses at ``now`` (``_price``, per booked
        unit, in the oracle's decimals; zero for a broken feed)."""
        if self.read_price is not None:
            return self.read_price
        price, _stale = market_price(self.answer, self.updated_at, now, self.price_cap, self.ratio, self.max_oracle_age)
        return price


@dataclass(frozen=True)
class MarketHealthInputs:
    """Everything besides the positions that a health factor depends on:
    the stored books (index, last accrual, total scaled debt, cash,
    reserves), the rate curve, and the listed assets in asset-id order
    (the columns of :class:`PositionArrays`)."""

    book: Book
    rates: Rates
    assets: tuple[AssetPricing, ...]

    def __post_init__(self) -> None:
        ids = [a.asset_id for a in self.assets]
        if ids != list(range(len(ids))):
            raise ValueError(f"assets must be in asset-id order from 0, got ids {ids}")
        tokens = [a.token for a in self.assets]
        if len(set(tokens)) != len(tokens):
            raise ValueError("an asset is listed twice")

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(a.token for a in self.assets)

    def index_at(self, now: int) -> int:
        """The borrow index the market accrues to at ``now`` (the
        ``navlend.rules`` formula from the stored books)."""
        if now < self.book.last_accrual:
            raise ValueError(f"time {now} is before the books' last accrual {self.book.last_accrual}")
        return accrued(self.book, self.rates, now).index

    def prices_at(self, now: int) -> tuple[int, ...]:
        return tuple(a.price(now) for a in self.assets)


@dataclass(frozen=True, eq=False)
class PositionArrays:
    """The index's positions as arrays: exact Python ints (object arrays)
    for the exact path, float64 copies for the screen. Row i is
    ``accounts[i]``; column j of the collateral is asset id j."""

    accounts: tuple[str, ...]
    scaled: np.ndarray
    collateral: np.ndarray
    scaled_f: np.ndarray
    collateral_f: np.ndarray

    @classmethod
    def build(cls, accounts: Sequence[str], scaled: Sequence[int], collateral: Sequence[Sequence[int]], n_assets: int) -> PositionArrays:
        """From parallel sequences; every amount a non-negative int and
        every row ``n_assets`` long."""
        if not (len(accounts) == len(scaled) == len(collateral)):
            raise ValueError(
                f"accounts, scaled debts and collateral rows differ in length: "
                f"{len(accounts)}, {len(scaled)}, {len(collateral)}"
            )
        rows = [tuple(r) for r in collateral]
        for account, debt, row in zip(accounts, scaled, rows):
            if len(row) != n_assets:
                raise ValueError(f"{account}: {len(row)} collateral columns, the market lists {n_assets} assets")
            if any(not isinstance(x, int) or x < 0 for x in (debt, *row)):
                raise ValueError(f"{account}: amounts must be non-negative ints")
        ints = np.empty((len(rows), n_assets), dtype=object)
        for i, row in enumerate(rows):
            ints[i, :] = row
        scaled_i = np.array(list(scaled), dtype=object).reshape(len(rows))
        return cls(
            accounts=tuple(accounts),
            scaled=scaled_i,
            collateral=ints,
            scaled_f=scaled_i.astype(np.float64),
            collateral_f=ints.astype(np.float64).reshape(len(rows), n_assets),
        )

    @classmethod
    def from_positions(cls, positions: Iterable[tuple[str, int, Mapping[str, int]]], tokens: Sequence[str]) -> PositionArrays:
        """From (account, scaled debt, collateral by token) triples, as the
        index holds them; a token the market does not list is an error
        (the inputs lag the positions: re-read the listing)."""
        column = {t: j for j, t in enumerate(tokens)}
        accounts, scaled, rows = [], [], []
        for account, debt, balances in positions:
            accounts.append(account)
            scaled.append(debt)
            rows.append(_row(account, debt, balances, column))
        return cls.build(accounts, scaled, rows, len(tokens))

    def __len__(self) -> int:
        return len(self.accounts)


def _row(account: str, scaled: int, balances: Mapping[str, int], column: Mapping[str, int]) -> list[int]:
    """A position's collateral as a row in column order, checked."""
    row = [0] * len(column)
    for token, amount in balances.items():
        if token not in column:
            raise ValueError(f"{account} holds {token}, which is not among the market's listed assets")
        row[column[token]] = amount
    if any(not isinstance(x, int) or x < 0 for x in (scaled, *row)):
        raise ValueError(f"{account}: amounts must be non-negative ints")
    return row


class PositionTable:
    """The positions as arrays kept up to date row by row, so that a block
    costs what changed in it, not the book: ``upsert`` the accounts an
    ``apply`` touched (``ApplyResult.touched``, read back with
    ``PositionIndex.position``), then ``arrays()`` for the screen. A closed
    position keeps its row with zero debt (never flagged). Not
    thread-safe; ``arrays()`` is a view valid until the next ``upsert``."""

    def __init__(self, tokens: Sequence[str], capacity: int = 1024):
        self.tokens = tuple(tokens)
        self._column = {t: j for j, t in enumerate(self.tokens)}
        self._rows: dict[str, int] = {}
        self._accounts: list[str] = []
        k = len(self.tokens)
        capacity = max(capacity, 1)
        self._scaled = np.zeros(capacity, dtype=object)
        self._collateral = np.zeros((capacity, k), dtype=object)
        self._scaled_f = np.zeros(capacity, dtype=np.float64)
        self._collateral_f = np.zeros((capacity, k), dtype=np.float64)

    def __len__(self) -> int:
        return len(self._accounts)

    def upsert(self, account: str, scaled: int, balances: Mapping[str, int]) -> None:
        """Sets ``account``'s row: its scaled debt and collateral by token
        (a token the table does not list is an error; absent ones are 0)."""
        row = _row(account, scaled, balances, self._column)
        i = self._rows.get(account)
        if i is None:
            i = len(self._accounts)
            if i == len(self._scaled):
                self._grow()
            self._rows[account] = i
            self._accounts.append(account)
        self._scaled[i] = scaled
        self._scaled_f[i] = float(scaled)
        for j, amount in enumerate(row):
            self._collateral[i, j] = amount
            self._collateral_f[i, j] = float(amount)

    def _grow(self) -> None:
        n = len(self._scaled) * 2
        k = len(self.tokens)
        for name, shape, dtype in (
            ("_scaled", (n,), object),
            ("_collateral", (n, k), object),
            ("_scaled_f", (n,), np.float64),
            ("_collateral_f", (n, k), np.float64),
        ):
            old = getattr(self, name)
            new = np.zeros(shape, dtype=dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def arrays(self) -> PositionArrays:
        n = len(self._accounts)
        return PositionArrays(
            accounts=tuple(self._accounts),
            scaled=self._scaled[:n],
            collateral=self._collateral[:n],
            scaled_f=self._scaled_f[:n],
            collateral_f=self._collateral_f[:n],
        )


@dataclass(frozen=True)
class ExactHealth:
    """A position's figures as ``MarketViews.position`` gives them."""

    account: str
    debt: int
    liquidation_value: int
    health_factor: int

    @property
    def liquidatable(self) -> bool:
        return liquidatable(self.liquidation_value, self.debt)


@dataclass(frozen=True, eq=False)
class HealthScreen:
    """One screen of all positions at one time.

    ``health`` is the float health factor (1.0 = the edge; inf without
    debt), within a relative 1e-12 of the market's; ``recheck`` flags the
    positions liquidatable or within the edge band, whose exact figures
    are in ``exact`` (by account)."""

    now: int
    index: int
    prices: tuple[int, ...]
    accounts: tuple[str, ...]
    health: np.ndarray
    recheck: np.ndarray
    exact: Mapping[str, ExactHealth]

    def candidates(self) -> list[str]:
        """The accounts liquidatable by the exact figures, in row order."""
        return [a for a in self.accounts_to_recheck() if self.exact[a].liquidatable]

    def accounts_to_recheck(self) -> list[str]:
        """The flagged accounts (candidates and near the edge), in row order."""
        return [self.accounts[i] for i in np.flatnonzero(self.recheck)]


def exact_health(account: str, scaled: int, balances: Sequence[int], prices: Sequence[int], assets: Sequence[AssetPricing], index: int) -> ExactHealth:
    """One position's figures by the market's own rules (navlend.rules)."""
    debt = debt_of(scaled, index)
    held = {
        a.asset_id: Collateral(balance, price, a.exponent, a.ltv_bps, a.threshold_bps)
        for a, balance, price in zip(assets, balances, prices)
    }
    lv = valuation(held, VALUE_LIQUIDATION).liquidation_value
    return ExactHealth(account, debt, lv, health_factor(lv, debt))


def _check_columns(positions: PositionArrays, k: int) -> None:
    if positions.collateral.shape[1] != k:
        raise ValueError(f"positions have {positions.collateral.shape[1]} collateral columns, the market lists {k} assets")


def exact_healths(positions: PositionArrays, inputs: MarketHealthInputs, now: int) -> dict[str, ExactHealth]:
    """Every position's exact figures at ``now``, one by one in Python
    integers (the periodic sweep that the Lens confirms; too slow for
    every block at 100,000 positions)."""
    _check_columns(positions, len(inputs.assets))
    index = inputs.index_at(now)
    prices = inputs.prices_at(now)
    return {
        account: exact_health(account, positions.scaled[i], list(positions.collateral[i]), prices, inputs.assets, index)
        for i, account in enumerate(positions.accounts)
    }


def screen(positions: PositionArrays, inputs: MarketHealthInputs, now: int, edge_bps: int = DEFAULT_EDGE_BPS) -> HealthScreen:
    """Screens every position at time ``now`` (the block's timestamp):
    float health factors for all, exact figures for those flagged (see
    the module docstring for the error bound)."""
    if edge_bps < 0:
        raise ValueError("edge_bps must be non-negative")
    k = len(inputs.assets)
    _check_columns(positions, k)
    index = inputs.index_at(now)
    prices = inputs.prices_at(now)
    # price / 10^exponent x threshold / BPS per asset, in float64.
    weight = np.array(
        [float(p) / float(10**a.exponent) * a.threshold_bps / BPS for p, a in zip(prices, inputs.assets)],
        dtype=np.float64,
    )
    lv_f = positions.collateral_f @ weight if k else np.zeros(len(positions))
    debt_f = positions.scaled_f * (float(index) / WAD)
    with np.errstate(divide="ignore", invalid="ignore"):
        health = np.where(positions.scaled_f > 0, lv_f / debt_f, np.inf)
    # What the floors and the ceiling can move, plus float rounding.
    margin = 2.0 * k + 2.0 + FLOAT_RELATIVE_ERROR * (lv_f + debt_f)
    band = debt_f * (edge_bps / BPS)
    recheck = (positions.scaled_f > 0) & (lv_f < debt_f + band + margin)
    exact = {}
    for i in np.flatnonzero(recheck):
        account = positions.accounts[i]
        exact[account] = exact_health(
            account, positions.scaled[i], list(positions.collateral[i]), prices, inputs.assets, index
        )
    return HealthScreen(
        now=now,
        index=index,
        prices=prices,
        accounts=positions.accounts,
        health=health,
        recheck=recheck,
        exact=exact,
    )


@dataclass(frozen=True)
class HealthMismatch:
    """A position whose local figures differ from the Lens's at one block."""

    account: str
    local: ExactHealth
    lens: AccountHealth

    def log_fields(self) -> dict[str, int | str]:
        return {
            "account": self.account,
            "local_debt": self.local.debt,
            "lens_debt": self.lens.debt,
            "local_liquidation_value": self.local.liquidation_value,
            "lens_liquidation_value": self.lens.liquidation_value,
            "local_health_factor": self.local.health_factor,
            "lens_health_factor": self.lens.health_factor,
        }


def mismatches(local: Mapping[str, ExactHealth], lens: Iterable[AccountHealth]) -> list[HealthMismatch]:
    """The Lens entries whose debt, liquidation value or health factor
    differ from the local exact figures at the same block (entries the
    Lens failed on, or with no local figure, are skipped)."""
    out = []
    for entry in lens:
        mine = local.get(to_address(entry.account))
        if entry.failed or mine is None:
            continue
        if (mine.debt, mine.liquidation_value, mine.health_factor) != (
            entry.debt,
            entry.liquidation_value,
            entry.health_factor,
        ):
            out.append(HealthMismatch(mine.account, mine, entry))
    return out
