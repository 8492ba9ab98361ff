"""Interest: the kinked per-second curve, the borrow index, reserves.

The default curve is 0 % base, +4 % a year up to a 90 % kink and +60 % a
year above it, with a 10 % reserve factor; ``set_rates`` takes annual WAD
rates and stores them per second, truncated. Between accruals the index
grows by exp(rate x elapsed) - 1 to the third order (rounded up), at the
rate set by the utilisation of the last accrual.

Two kinds of expected values appear here: ``grown_index`` replays the
contract's arithmetic to the wei (white box), and
``test_debt__one_year__matches_continuous_compounding`` checks the result
against plain continuous compounding from the annual rates (black box).
"""

import math

import ape
import pytest
from navlend.constants import BPS, WAD

USD = 10**6
DAY = 86_400
YEAR = 365 * DAY
LENT = 10_000 * USD
# Default curve, annual.
SLOPE1_APR = 4 * WAD // 100
SLOPE2_APR = 60 * WAD // 100
KINK_BPS = 9_000
RESERVE_FACTOR_BPS = 1_000


# ---- an independent model of the curve ----


def rate_at(utilization: int, base: int, slope1: int, slope2: int, kink_bps: int) -> int:
    """The per-second rate of the kinked curve (WAD), from per-second terms."""
    kink = kink_bps * WAD // BPS
    if utilization <= kink:
        return base + slope1 * utilization // kink
    return base + slope1 + slope2 * (utilization - kink) // (WAD - kink)


def grown_index(index: int, rate: int, elapsed: int) -> int:
    """The index after ``elapsed`` seconds at ``rate``: exp - 1 to the third
    order, rounded up (what the market computes)."""
    x = rate * elapsed
    growth = x + x * x // (2 * WAD) + x * x // WAD * x // (6 * WAD)
    return index + -(-index * growth // WAD)


def default_rate(utilization: int) -> int:
    return rate_at(utilization, 0, SLOPE1_APR // YEAR, SLOPE2_APR // YEAR, KINK_BPS)


def logged(tx, event) -> list[dict]:
    return [dict(log.event_arguments) for log in tx.events.filter(event)]


@pytest.fixture
def borrowed(market, lend, open_position, collaterals, borrower):
    """``borrowed(amount)``: 10,000 lent, ``amount`` borrowed by
    ``borrower`` against 2,000 fund A shares (~21,000 USD); returns the
    borrow receipt."""

    def go(amount: int):
        lend(LENT)
        return open_position(collaterals["fund_a"], borrower, 2_000 * USD, amount)

    return go


# ---- the curve ----


def test_borrow_rate__no_borrows__is_the_base_rate(market, owner):
    market.set_rates(WAD // 100, SLOPE1_APR, SLOPE2_APR, KINK_BPS, RESERVE_FACTOR_BPS, sender=owner)
    assert market.utilization() == 0
    assert market.borrow_rate() == WAD // 100 // YEAR


@pytest.mark.parametrize(
    "borrowed_amount, utilization",
    [(5_000 * USD, WAD // 2), (9_000 * USD, 9 * WAD // 10), (9_500 * USD, 95 * WAD // 100)],
    ids=["below_kink", "at_kink", "above_kink"],
)
def test_borrow_rate__utilization__follows_the_kinked_curve(market, borrowed, borrowed_amount, utilization):
    borrowed(borrowed_amount)  # the head block is the borrow's: nothing accrued yet
    assert market.utilization() == utilization
    slope1, slope2 = SLOPE1_APR // YEAR, SLOPE2_APR // YEAR
    kink = KINK_BPS * WAD // BPS
    if utilization <= kink:
        expected = slope1 * utilization // kink
    else:
        expected = slope1 + slope2 * (utilization - kink) // (WAD - kink)
    assert market.borrow_rate() == expected
    # The same rate, annualised, from the annual parameters (truncation only).
    annual = 0.04 * min(utilization, kink) / kink + 0.60 * max(utilization - kink, 0) / (WAD - kink)
    assert market.borrow_rate() * YEAR / WAD == pytest.approx(annual, rel=1e-6)


def test_utilization__borrows_outstanding__is_borrows_over_cash_plus_borrows(market, borrowed, advance):
    borrowed(7_000 * USD)
    advance(90 * DAY)
    cash, borrows, _, _, _ = market.market_state()
    assert borrows > 7_000 * USD
    assert market.utilization() == borrows * WAD // (borrows + cash)
    assert market.borrow_rate() == default_rate(market.utilization())


# ---- accrual ----


def test_accrue__borrows_outstanding__index_grows_every_second(market, borrowed, advance, chain):
    tx = borrowed(5_000 * USD)
    start = chain.blocks[tx.block_number].timestamp
    rate = default_rate(WAD // 2)
    indexes = []
    for _ in range(3):
        now = advance(1)
        index = market.market_state()[3]
        assert index == grown_index(WAD, rate, now - start)
        indexes.append(index)
    assert WAD < indexes[0] < indexes[1] < indexes[2]


def test_accrue__no_borrows__index_stays_and_no_event(market, lend, advance, lender):
    lend(LENT)
    advance(30 * DAY)
    assert market.market_state()[3] == WAD
    tx = lend(USD)
    assert logged(tx, market.AccrueInterest) == []
    assert market.market_state()[3] == WAD


def test_debt_of__time_passes__grows(market, borrowed, advance, borrower):
    borrowed(5_000 * USD)
    debts = [market.debt_of(borrower)]
    for seconds in (1, DAY, 30 * DAY):
        advance(seconds)
        debts.append(market.debt_of(borrower))
    assert debts[0] == 5_000 * USD
    assert debts == sorted(set(debts))  # strictly increasing


def test_accrue__on_an_action__logs_interest_and_reserves_take_the_factor(market, borrowed, advance, lend, chain):
    tx = borrowed(6_000 * USD)
    start = chain.blocks[tx.block_number].timestamp
    _, borrows_before, reserves_before, index_before, scaled = market.market_state()
    assert reserves_before == 0
    advance(45 * DAY)
    tx = lend(USD)  # any accruing action
    now = chain.blocks[tx.block_number].timestamp
    index = grown_index(index_before, default_rate(6 * WAD // 10), now - start)
    interest = scaled * index // WAD - scaled * index_before // WAD
    assert logged(tx, market.AccrueInterest) == [{"borrow_index": index, "interest": interest}]
    cash, borrows, reserves, stored_index, _ = market.market_state()
    assert stored_index == index
    assert borrows - borrows_before == interest
    assert reserves == interest * RESERVE_FACTOR_BPS // BPS  # rounded down: lenders keep the rest
    assert market.totalAssets() == cash + borrows - reserves


def test_accrue__above_the_kink__index_follows_the_steep_rate(market, borrowed, advance, chain):
    tx = borrowed(9_500 * USD)
    start = chain.blocks[tx.block_number].timestamp
    now = advance(10 * DAY)
    assert market.market_state()[3] == grown_index(WAD, default_rate(95 * WAD // 100), now - start)


def test_debt__one_year__matches_continuous_compounding(market, borrowed, advance, borrower):
    """One accrual over a year at 50 % utilisation (2.22 % a year) against
    5,000 x e^(0.04 x 0.5 / 0.9). Tolerance 1 ppm (about 5 cents): the
    third-order exponential is off by x^4/24 (1e-8) and the per-second rate
    is truncated (below 1e-9)."""
    borrowed(5_000 * USD)
    advance(YEAR)
    expected = 5_000 * USD * math.exp(0.04 * 0.5 / 0.9)
    debt = market.debt_of(borrower)
    assert debt == pytest.approx(expected, rel=1e-6)
    assert debt <= expected  # the third-order expansion stays below e^x


# ---- set_rates ----


def test_set_rates__borrows_outstanding__accrues_at_the_old_rate_first(market, borrowed, advance, chain, owner):
    tx = borrowed(5_000 * USD)
    start = chain.blocks[tx.block_number].timestamp
    advance(30 * DAY)
    tx = market.set_rates(WAD // 50, WAD // 10, 2 * WAD, 8_000, 2_000, sender=owner)
    switched = chain.blocks[tx.block_number].timestamp
    index = grown_index(WAD, default_rate(WAD // 2), switched - start)
    assert logged(tx, market.AccrueInterest)[0]["borrow_index"] == index
    assert logged(tx, market.RatesSet) == [
        {"base_rate": WAD // 50 // YEAR, "slope1": WAD // 10 // YEAR, "slope2": 2 * WAD // YEAR,
         "kink_bps": 8_000, "reserve_factor_bps": 2_000}
    ]
    config = market.rate_config()
    assert tuple(config) == (WAD // 50 // YEAR, WAD // 10 // YEAR, 2 * WAD // YEAR, 8_000, 2_000)
    # From now on the index grows at the new rate, from the new utilisation.
    cash, borrows, _, _, _ = market.market_state()
    rate = rate_at(borrows * WAD // (borrows + cash), *tuple(config)[:4])
    now = advance(DAY)
    assert market.market_state()[3] == grown_index(index, rate, now - switched)


def test_set_rates__at_the_bounds__accepted(market, owner):
    market.set_rates(10 * WAD, 10 * WAD, 10 * WAD, 9_900, 5_000, sender=owner)
    assert tuple(market.rate_config()) == (10 * WAD // YEAR, 10 * WAD // YEAR, 10 * WAD // YEAR, 9_900, 5_000)
    market.set_rates(0, 0, 0, 1_000, 0, sender=owner)
    assert tuple(market.rate_config()) == (0, 0, 0, 1_000, 0)


@pytest.mark.parametrize(
    "rates, reason",
    [
        ((10 * WAD + 1, 0, 0, 9_000, 1_000), "market: rate too high"),
        ((0, 10 * WAD + 1, 10 * WAD + 1, 9_000, 1_000), "market: rate too high"),
        ((0, 0, 10 * WAD + 1, 9_000, 1_000), "market: rate too high"),
        ((0, WAD // 10, WAD // 10 - 1, 9_000, 1_000), "market: slope2 below slope1"),
        ((0, SLOPE1_APR, SLOPE2_APR, 999, 1_000), "market: bad kink"),
        ((0, SLOPE1_APR, SLOPE2_APR, 9_901, 1_000), "market: bad kink"),
        ((0, SLOPE1_APR, SLOPE2_APR, 9_000, 5_001), "market: bad reserve factor"),
    ],
    ids=["base_high", "slope1_high", "slope2_high", "slope2_below_slope1", "kink_low", "kink_high", "reserve_factor"],
)
def test_set_rates__out_of_bounds__reverts(market, owner, rates, reason):
    with ape.reverts(reason):
        market.set_rates(*rates, sender=owner)


def test_set_rates__not_owner__reverts(market, guardian, lender, outsider):
    for who in (guardian, lender, outsider):
        with ape.reverts("ownable: caller is not the owner"):
            market.set_rates(0, SLOPE1_APR, SLOPE2_APR, KINK_BPS, RESERVE_FACTOR_BPS, sender=who)
