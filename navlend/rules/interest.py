"""Interest: the kinked rate curve, the borrow index, and debt.

The index compounds per second with a third-order Taylor expansion of
exp(rate x elapsed) and is rounded up; debt is scaled debt x index rounded
up; the lenders' interest is the growth of total borrows rounded down,
and the reserves take their factor of it rounded down."""

from __future__ import annotations

from dataclasses import dataclass

from navlend.constants import BPS, MASK96, WAD, YEAR
from navlend.rules.arith import ceil_div, require


@dataclass
class Rates:
    """The rate curve as the market stores it: per-second WAD rates
    (annual // YEAR), the kink and the reserve factor in basis points."""

    base_rate: int = 0
    slope1: int = 4 * WAD // 100 // YEAR
    slope2: int = 60 * WAD // 100 // YEAR
    kink_bps: int = 9_000
    reserve_factor_bps: int = 1_000

    @classmethod
    def from_annual(cls, base: int, slope1: int, slope2: int, kink_bps: int, reserve_factor_bps: int) -> Rates:
        """From annual WAD rates, as ``set_rates`` takes them (each
        divided by YEAR, rounded down)."""
        return cls(base // YEAR, slope1 // YEAR, slope2 // YEAR, kink_bps, reserve_factor_bps)

    def rate_at(self, util: int) -> int:
        """The per-second borrow rate at utilisation ``util`` (WAD)."""
        kink = self.kink_bps * (WAD // BPS)
        if util <= kink:
            return self.base_rate + self.slope1 * util // kink
        return self.base_rate + self.slope1 + self.slope2 * (util - kink) // (WAD - kink)


@dataclass(frozen=True)
class Book:
    """The market's lending books: the borrow index, its last accrual, the
    total scaled debt, the idle cash and the reserves."""

    index: int
    last_accrual: int
    total_scaled: int
    cash: int
    reserves: int


@dataclass(frozen=True)
class Accrued:
    """The books after accruing to a time (``_accrued_words``): the index,
    the accrual time, the reserves, and the interest the lenders earned."""

    index: int
    last: int
    reserves: int
    interest: int


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
    """Total borrows, rounded down (the lenders' claim never rounds up)."""
    return total_scaled * index // WAD


def utilization(total_scaled: int, index: int, cash: int) -> int:
    """Borrows over borrows plus cash (WAD), rounded down."""
    borrows = borrows_of(total_scaled, index)
    if borrows == 0:
        return 0
    return borrows * WAD // (borrows + cash)


def accrued(book: Book, rates: Rates, now: int) -> Accrued:
    """The books accrued to ``now``. The accrual time moves even when
    nothing accrues (no debt)."""
    elapsed = now - book.last_accrual
    if elapsed == 0:
        return Accrued(book.index, book.last_accrual, book.reserves, 0)
    if book.total_scaled == 0:
        return Accrued(book.index, now, book.reserves, 0)
    rate = rates.rate_at(utilization(book.total_scaled, book.index, book.cash))
    new_index = accrue_index(book.index, rate, elapsed)
    interest = borrows_of(book.total_scaled, new_index) - borrows_of(book.total_scaled, book.index)
    return Accrued(new_index, now, book.reserves + interest * rates.reserve_factor_bps // BPS, interest)


def debt_of(scaled: int, index: int) -> int:
    """What a borrower owes, rounded up."""
    return ceil_div(scaled * index, WAD)


def scaled_for_borrow(amount: int, index: int) -> int:
    """The scaled debt a borrow of ``amount`` adds, rounded up."""
    return ceil_div(amount * WAD, index)


def scaled_repaid(repaid: int, debt: int, scaled: int, index: int) -> int:
    """The scaled debt a repayment removes: all of it for the whole debt,
    else ``repaid / index`` rounded down (never more than there is)."""
    if repaid == debt:
        return scaled
    return min(repaid * WAD // index, scaled)
